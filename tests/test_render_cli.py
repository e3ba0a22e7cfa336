"""`render` command end to end on the development FLAME head (small sizes)."""

import json

import numpy as np
import pytest

from x3dtalker_core.cli import main
from x3dtalker_core.params import FlameSequence

pytest.importorskip("av")
pytest.importorskip("moderngl")


@pytest.fixture
def params_and_audio(tmp_path, dev_flame):
    import soundfile as sf

    t = 20
    pose = np.zeros((t, 6), np.float32)
    pose[:, 3] = np.linspace(0.0, 0.3, t)  # jaw opens
    pose[:, 0] = 0.1 * np.sin(np.arange(t) / 4)  # nod
    cam = np.tile(np.array([8.0, 0.0, 0.02], np.float32), (t, 1))
    seq = FlameSequence.from_groups(np.zeros((t, 100)), np.zeros((t, 50)), pose, cam=cam)
    params = seq.save(tmp_path / "params.npz")
    audio = tmp_path / "speech.wav"
    sf.write(audio, (0.2 * np.sin(np.arange(int(0.85 * 16000)) * 0.1)).astype(np.float32), 16000)
    return params, audio


def test_render_writes_videos_glb_in_sync(tmp_path, params_and_audio):
    from x3dtalker_core.render.export import read_glb_animation
    from x3dtalker_core.render.video import probe_video, read_video_frames

    params, audio = params_and_audio
    out = tmp_path / "out"
    code = main(["render", "--params", str(params), "--out", str(out), "--audio", str(audio), "--size", "64",
                 "--obj", "--no-progress"])
    assert code == 0
    for name in ("preview.mp4", "depth.mp4"):
        info = probe_video(out / name)
        assert (info.frames, info.fps, info.width, info.height) == (20, 25.0, 64, 64)
        assert abs(info.audio_seconds - info.video_seconds) <= 1 / 25.0
    depth = read_video_frames(out / "depth.mp4")
    assert depth[:, 0, 0].max() < 10 and depth.max() > 240  # black background, bright near surface
    trimesh = pytest.importorskip("trimesh")
    (mesh,) = trimesh.load(out / "mesh.glb").geometry.values()
    assert mesh.vertices.shape == (5023, 3)
    anim = read_glb_animation(out / "mesh.glb")
    assert anim.vertices.shape == (20, 5023, 3) and anim.extras["frames"] == 20
    report = json.loads((out / "render.json").read_text())
    assert report["camera"] == "fitted" and report["frames"] == 20
    assert (out / "mesh_obj.zip").is_file()


def test_render_wan_preset(tmp_path, params_and_audio):
    from x3dtalker_core.render.video import probe_video

    params, audio = params_and_audio
    out = tmp_path / "wan"
    code = main(["render", "--params", str(params), "--out", str(out), "--audio", str(audio), "--size", "72",
                 "--wan", "14b", "--length", "17", "--camera", "orbit", "--no-glb", "--no-progress"])
    assert code == 0
    info = probe_video(out / "depth.mp4")
    # 20 frames at 25 fps = 0.8 s -> 13 frames at 16 fps -> padded to at least length 17 (4n+1)
    assert (info.frames, info.fps, info.width, info.height) == (17, 16.0, 80, 80)
    assert abs(info.audio_seconds - info.video_seconds) <= 1 / 16.0
    assert not (out / "mesh.glb").exists()


def test_render_reports_bad_input(tmp_path, capsys):
    assert main(["render", "--params", str(tmp_path / "missing.npz"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
