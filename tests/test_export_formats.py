"""ARKit tracks and their files: Live Link Face CSV (column for column), Audio2Face and LAM JSON, the CLI."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from helpers import talking_sequence
from x3dtalker_core.errors import X3DError
from x3dtalker_core.export.blendshape_json import a2f_document, lam_document
from x3dtalker_core.export.livelink import COLUMNS, read_livelink_csv, timecode, write_livelink_csv
from x3dtalker_core.export.track import ArkitTrack, arkit_track, head_yaw_pitch_roll
from x3dtalker_core.flame.arkit import ARKIT52_NAMES

# The iPhone app's header, as its exported takes have it (typed out here, not derived from the code).
APP_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
).split(",")
TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}:\d{2}\.\d{3}$")


def known_track(frames: int = 50, fps: float = 25.0) -> ArkitTrack:
    """A track whose every weight is recognisable: weight k ramps from 0 to (k + 1) / 60."""
    ramp = np.linspace(0.0, 1.0, frames)[:, None]
    weights = ramp * (np.arange(1, 53) / 60.0)[None]
    head = np.zeros((frames, 3))
    head[:, 1] = 0.2  # a pure yaw
    return ArkitTrack(weights, head, np.zeros((frames, 6)), fps)


def column(rows: list[list[str]], name: str) -> np.ndarray:
    i = rows[0].index(name)
    return np.array([float(r[i]) for r in rows[1:]])


def test_livelink_csv_is_the_apps_file(tmp_path):
    track = known_track()
    path = write_livelink_csv(tmp_path / "take.csv", track)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == APP_HEADER and len(rows[0]) == 63
    assert list(COLUMNS) == APP_HEADER
    body = rows[1:]
    assert len(body) == 120  # 2 s at the app's 60 fps
    assert all(len(r) == 63 and r[1] == "61" and TIMECODE.match(r[0]) for r in body)
    assert body[0][0] == "00:00:00:00.000" and body[59][0] == "00:00:00:59.000" and body[60][0] == "00:00:01:00.000"
    # Values by name: each column carries its own shape's ramp (resampled 25 -> 60 fps), except that the app
    # writes mouthLeft under MouthRight and vice versa.
    src = np.clip(np.arange(120) * 25 / 60, 0, 49)
    for k, name in enumerate(ARKIT52_NAMES):
        own = {"mouthLeft": "mouthRight", "mouthRight": "mouthLeft"}.get(name, name)
        expected = np.interp(src, np.arange(50), track.weights[:, ARKIT52_NAMES.index(own)])
        np.testing.assert_allclose(column(rows, name[0].upper() + name[1:]), expected, atol=2e-6, err_msg=name)
    np.testing.assert_allclose(column(rows, "HeadYaw"), 0.2, atol=1e-6)
    np.testing.assert_allclose(column(rows, "HeadPitch"), 0.0, atol=1e-6)
    np.testing.assert_allclose(column(rows, "LeftEyeYaw"), 0.0, atol=1e-6)

    unmirrored = read_livelink_csv(write_livelink_csv(tmp_path / "own.csv", track, fps=30, app_mouth_mirroring=False))
    assert len(unmirrored.timecodes) == 60 and unmirrored.timecodes[30] == "00:00:01:00.000"
    np.testing.assert_allclose(unmirrored.column("MouthLeft")[-1], track.weights[-1, ARKIT52_NAMES.index("mouthLeft")],
                               atol=2e-6)
    np.testing.assert_array_equal(unmirrored.counts, 61)
    with pytest.raises(X3DError, match="60 or 30"):
        write_livelink_csv(tmp_path / "x.csv", track, fps=25)


def test_timecode_and_head_angles():
    assert timecode(0, 60) == "00:00:00:00.000"
    assert timecode(60 * 3600 + 60 * 61 + 7, 60) == "01:01:01:07.000"
    angles = head_yaw_pitch_roll(np.array([[0, 0.3, 0], [0.2, 0, 0], [0, 0, -0.1]]))
    np.testing.assert_allclose(angles, [[0.3, 0, 0], [0, 0.2, 0], [0, 0, -0.1]], atol=1e-6)  # yaw, pitch, roll


def test_track_from_a_flame_sequence(dev_flame):
    seq = talking_sequence(40, expression_space=None)  # flame-pca: solved
    track = arkit_track(seq, dev_flame)
    assert track.weights.shape == (40, 52) and track.info["expression_space"] == "flame-pca"
    assert 0 < track.info["solve"]["rmse_mm_mean"] < 3
    jaw_open = track.weights[:, ARKIT52_NAMES.index("jawOpen")]
    assert np.corrcoef(jaw_open, seq.jaw_pose[:, 0])[0, 1] > 0.95
    np.testing.assert_array_equal(track.head, seq.head_pose)
    resampled = track.resample(60.0)
    assert resampled.num_frames == 96 and resampled.fps == 60.0
    np.testing.assert_allclose(resampled.head[0], seq.head_pose[0], atol=1e-6)
    np.testing.assert_allclose(resampled.head[60], seq.head_pose[25], atol=1e-5)  # 1 s in

    passed = arkit_track(talking_sequence(40), dev_flame)  # speaks ARKit: weights pass through
    named = [ARKIT52_NAMES.index(n) for n in dev_flame.expression_names[:47]]
    np.testing.assert_allclose(passed.weights[:, named], talking_sequence(40).exp[:, :47], atol=1e-6)


def test_audio2face_and_lam_json():
    track = known_track(frames=10)
    a2f = a2f_document(track, fps=30, track_path="speech.wav")
    assert set(a2f) == {"exportFps", "trackPath", "numPoses", "numFrames", "facsNames", "weightMat"}
    assert a2f["exportFps"] == 30 and a2f["numPoses"] == 52 and a2f["facsNames"] == list(ARKIT52_NAMES)
    assert a2f["numFrames"] == len(a2f["weightMat"]) == 12 and all(len(r) == 52 for r in a2f["weightMat"])
    assert a2f["weightMat"][-1][ARKIT52_NAMES.index("tongueOut")] == pytest.approx(52 / 60, abs=1e-6)
    lam = lam_document(track)
    assert lam["names"] == list(ARKIT52_NAMES) and len(lam["values"]) == 10 and lam["fps"] == 25.0
    np.testing.assert_allclose(np.array(lam["values"]), track.weights, atol=1e-6)


def test_export_command_writes_every_format(tmp_path, dev_flame):
    from x3dtalker_core.cli import main

    params = talking_sequence(30).save(tmp_path / "params.npz")
    out = tmp_path / "exports"
    assert main(["export", "--params", str(params), "--out", str(out), "--format", "livelink,a2f,lam,glb",
                 "--fps", "30"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a2f_blendshapes.json", "arkit_blendshapes.json", "livelink.csv",
                                                     "mesh.glb"]
    take = read_livelink_csv(out / "livelink.csv")
    assert take.columns == tuple(APP_HEADER) and len(take.timecodes) == 36
    assert json.loads((out / "a2f_blendshapes.json").read_text())["numFrames"] == 30
    assert main(["export", "--params", str(params), "--out", str(out), "--format", "fbx"]) == 2
