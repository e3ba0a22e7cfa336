"""Head-pose trajectories: axes, combination modes, limits, presets, audio cues, IO, plot, CLI."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from x3dtalker_core.cli import main
from x3dtalker_core.control.cues import AudioCues, frame_amplitude
from x3dtalker_core.control.plot import plot_pose_curves, write_png
from x3dtalker_core.control.pose import PoseLimits, PoseTrajectory, condition_angles, trajectory_from_expressions
from x3dtalker_core.control.presets import PRESETS, preset_expressions, preset_trajectory
from x3dtalker_core.errors import X3DError


def speech_like_amplitude(seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    """Syllable bursts at ~4 Hz with a pause in the middle."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 25)) / 25
    amp = 0.2 * np.abs(np.sin(2 * np.pi * 2.0 * t)) ** 3 + 0.01 * rng.random(t.size)
    amp[(t > 3.0) & (t < 4.2)] = 0.002
    return amp


def test_axes_follow_flame_convention():
    # pitch about x, yaw about y, roll about z (radians), R = Ry Rx Rz.
    for k, axis in enumerate("xyz"):
        angles = np.zeros((1, 3))
        angles[0, k] = 0.3
        aa = PoseTrajectory(angles).to_axis_angle()[0]
        expected = np.zeros(3)
        expected["xyz".index(axis)] = 0.3
        np.testing.assert_allclose(aa, expected, atol=1e-6)
    # Positive yaw turns the face (+z) toward +x (subject's left); positive pitch tips it down.
    m = PoseTrajectory(np.array([[0.0, 0.3, 0.0]])).to_matrix()[0]
    assert (m @ [0, 0, 1])[0] > 0.2
    m = PoseTrajectory(np.array([[0.3, 0.0, 0.0]])).to_matrix()[0]
    assert (m @ [0, 0, 1])[1] < -0.2
    # Composition order: turn, then nod, then tilt.
    a = np.array([[0.2, -0.4, 0.1]])
    ref = Rotation.from_euler("YXZ", [-0.4, 0.2, 0.1]).as_rotvec()
    np.testing.assert_allclose(PoseTrajectory(a).to_axis_angle()[0], ref, atol=1e-6)


def test_superimpose_and_center_modes():
    rng = np.random.default_rng(1)
    pred = rng.normal(0, 0.1, (30, 3))
    still = PoseTrajectory.zeros(30)
    np.testing.assert_allclose(still.combine(pred), pred, atol=1e-6)
    traj = PoseTrajectory(rng.normal(0, 0.1, (30, 3)))
    sup = traj.combine(pred)
    expected = (Rotation.from_matrix(traj.to_matrix()) * Rotation.from_rotvec(pred)).as_rotvec()
    np.testing.assert_allclose(sup, expected, atol=1e-6)
    # center mode with deviation scale 1 is superimpose; with 0 it is the trajectory on the centre.
    np.testing.assert_allclose(traj.with_mode("center", 1.0).combine(pred), sup, atol=1e-5)
    ref = np.array([0.05, -0.1, 0.0])
    out0 = traj.with_mode("center", 0.0).combine(pred, reference=ref)
    expected0 = (Rotation.from_matrix(traj.to_matrix()) * Rotation.from_rotvec(ref)).as_rotvec()
    np.testing.assert_allclose(out0, expected0, atol=1e-6)
    # half the model's deviation around the reference
    half = traj.with_mode("center", 0.5).combine(pred, reference=ref)
    dev = (Rotation.from_matrix(traj.to_matrix()) * Rotation.from_rotvec(ref)).inv() * Rotation.from_rotvec(half)
    full = Rotation.from_rotvec(ref).inv() * Rotation.from_rotvec(pred)
    np.testing.assert_allclose(dev.as_rotvec(), 0.5 * full.as_rotvec(), atol=1e-6)
    # apply_to_pose leaves the jaw alone; the trajectory is cropped/held to the clip length.
    pose = np.concatenate([pred, rng.normal(0, 0.1, (30, 3))], axis=1)
    out = PoseTrajectory(np.zeros((10, 3)) + 0.1).apply_to_pose(pose)
    np.testing.assert_array_equal(out[:, 3:], pose[:, 3:].astype(np.float32))
    with pytest.raises(X3DError, match="mode"):
        PoseTrajectory(np.zeros((3, 3)), mode="replace")


def test_condition_respects_angle_and_speed_limits():
    rng = np.random.default_rng(2)
    wild = rng.normal(0, 200, (300, 3))
    lim = PoseLimits()
    out = condition_angles(wild, 25, lim)
    assert np.all(np.abs(out) <= lim.angle_limits_deg + 1e-9)
    assert np.abs(np.diff(out, axis=0)).max() <= lim.max_speed_deg_s / 25 + 1e-9
    with pytest.raises(X3DError):
        condition_angles(np.full((4, 3), np.nan))


def test_audio_cues_from_amplitude():
    cues = AudioCues.from_amplitude(speech_like_amplitude())
    assert cues.num_frames == 200 and cues.has_audio
    assert 0 <= cues.energy.min() and cues.energy.max() <= 1
    t = np.arange(200) / 25
    assert cues.voice[(t > 3.3) & (t < 3.9)].max() < 0.5  # the pause
    assert cues.voice[t < 2.5].mean() > 0.8
    assert 60 <= cues.bpm <= 180 and cues.beats.size > 3
    beat = cues.beat(cues.beats)
    np.testing.assert_allclose(beat, 1.0)
    summary = cues.summary()
    assert summary["duration_s"] == 8.0 and summary["silences_s"] and summary["energy_peaks"]
    silent = AudioCues.silent(50)
    assert not silent.has_audio and silent.beats.size > 0
    assert AudioCues.from_amplitude(np.zeros(40)).has_audio is False
    wave = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32)
    amp = frame_amplitude(wave)
    assert amp.shape == (25,) and np.allclose(amp[2:-2], 1.0, atol=0.02)


@pytest.mark.parametrize("name", PRESETS)
def test_presets_are_seeded_bounded_and_smooth(name):
    cues = AudioCues.from_amplitude(speech_like_amplitude())
    a = preset_trajectory(name, cues, seed=3)
    b = preset_trajectory(name, cues, seed=3)
    np.testing.assert_array_equal(a.angles, b.angles)
    lim = PoseLimits()
    deg = a.degrees
    assert a.num_frames == cues.num_frames
    assert np.all(np.abs(deg) <= lim.angle_limits_deg + 1e-9)
    assert np.abs(np.diff(deg, axis=0)).max() <= lim.max_speed_deg_s / 25 + 1e-9
    if name != "still":
        assert np.abs(deg).max() > 0.5
        assert preset_expressions(name, 3) != preset_expressions(name, 4)
    assert a.metadata["preset"] == name and a.metadata["seed"] == 3


def test_presets_follow_audio():
    quiet = AudioCues.silent(200)
    loud = AudioCues.from_amplitude(speech_like_amplitude())
    nods_quiet = preset_trajectory("rhythmic_nods", quiet, seed=0).degrees
    nods_loud = preset_trajectory("rhythmic_nods", loud, seed=0).degrees
    assert not np.allclose(nods_quiet, nods_loud)
    # energetic motion is larger while speaking than during the pause
    t = np.arange(200) / 25
    strength = preset_trajectory("energetic", loud, seed=0, strength=1.0).degrees
    assert np.abs(strength[(t > 0.5) & (t < 2.5), 0]).mean() > np.abs(strength[(t > 3.3) & (t < 4.0), 0]).mean()
    zero = preset_trajectory("energetic", loud, seed=0, strength=0.0)
    assert np.abs(zero.angles).max() == 0.0
    with pytest.raises(X3DError, match="unknown head-pose preset"):
        preset_trajectory("moonwalk", loud)


def test_expressions_and_io(tmp_path):
    cues = AudioCues.silent(50)
    traj = trajectory_from_expressions({"yaw": "10*sin(2*pi*0.5*t)"}, cues, metadata={"source": "test"})
    assert np.abs(traj.pitch).max() == 0 and np.abs(traj.yaw).max() > np.deg2rad(5)
    with pytest.raises(X3DError, match="axis"):
        trajectory_from_expressions({"tilt": "1"}, cues)
    path = traj.with_mode("center", 0.25).save(tmp_path / "p.npz")
    back = PoseTrajectory.load(path)
    np.testing.assert_array_equal(back.angles, traj.angles)
    assert back.mode == "center" and back.deviation_scale == 0.25 and back.metadata["source"] == "test"
    img = plot_pose_curves(traj, 200, 80)
    assert img.shape == (80, 200, 3) and img.min() >= 0 and img.max() <= 1
    assert (np.abs(img - np.array([0.15, 0.45, 0.85])).sum(-1) < 1e-6).any()  # yaw drawn in blue
    png = write_png(tmp_path / "p.png", img).read_bytes()
    assert png.startswith(b"\x89PNG") and b"IEND" in png


def test_cli_pose_preset(tmp_path, capsys):
    out = tmp_path / "traj.npz"
    assert main(["control", "pose", "--preset", "gentle sway", "--duration", "3", "--seed", "2",
                 "--out", str(out), "--plot", str(tmp_path / "t.png")]) == 0
    traj = PoseTrajectory.load(out)
    assert traj.num_frames == 75 and (tmp_path / "t.png").is_file()
    assert main(["control", "pose", "--preset", "nope", "--duration", "3", "--out", str(out)]) == 2
    assert "unknown head-pose preset" in capsys.readouterr().err
