"""The main job end to end through the CLI: reference + speech -> params.npz, preview/depth mp4, GLB, report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from helpers import REPO, shared_models_dir
from x3dtalker_core.cli import main
from x3dtalker_core.model import GeneratorConfig, ModelConfig, build_generator, save_checkpoint
from x3dtalker_core.params import FlameParams, FlameSequence

pytestmark = pytest.mark.skipif(shared_models_dir() is None, reason="X3DTALKER_MODELS (FLAME) not set")

TINY = ModelConfig(hidden=32, heads=2, backbone_blocks=1, identity_blocks=1, pose_blocks=1, expression_blocks=1,
                   ff_mult=2, timestep_dim=16)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    torch.manual_seed(0)
    gen = build_generator(GeneratorConfig(model=TINY, window=40))
    ckpt = save_checkpoint(root / "tiny.safetensors", gen.network, gen.config, {"note": "random test weights"})
    t = np.arange(int(1.5 * 16000)) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    sf.write(root / "speech.wav", speech, 16000)
    ref = FlameParams.from_vector(np.zeros(284, np.float32), cam=np.array([8.0, 0.0, 0.0], np.float32))
    ref.save(root / "ref.npz")
    return root, ckpt


def test_generate_writes_every_output(inputs, capsys):
    from x3dtalker_core.render.video import probe_video

    root, ckpt = inputs
    out = root / "out"
    code = main(["generate", "--params", str(root / "ref.npz"), "--audio", str(root / "speech.wav"), "--out", str(out),
                 "--checkpoint", str(ckpt), "--steps", "2", "--size", "64", "--pose-style", "calm",
                 "--emotion", "happy", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    for name in ("params.npz", "preview.mp4", "depth.mp4", "mesh.glb", "report.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    seq = FlameSequence.load(out / "params.npz")
    assert seq.params.shape == (round(1.5 * 25), 284) and seq.cam.shape == (len(seq), 3)
    assert seq.metadata["seed"] == 0 and seq.metadata["encoders"] == {"linguistic": "mel", "emotion": "prosody"}
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == len(seq)
    check_timings(report, rendered=True)
    assert report["assets"]["flame_is_development_head"] in (True, False)
    assert report["head_pose"]["preset"] == "calm" and report["emotion"] is not None
    video = probe_video(out / "depth.mp4")
    assert video.frames == len(seq) and abs(video.audio_seconds - 1.5) < 0.05


def check_timings(report: dict, rendered: bool) -> None:
    """report.json's timings: every documented key, stages that follow one another add up to at most the
    total, the render's parts fit in the render, and the real-time factor is total over duration."""
    from x3dtalker_core.pipeline import SEQUENTIAL_STAGES, TIMINGS

    t = report["timings"]
    assert list(t) == list(TIMINGS) and all(v >= 0 for v in t.values())
    assert sum(t[k] for k in SEQUENTIAL_STAGES) <= t["total_s"] + 1e-3
    assert t["render_encode_s"] + t["glb_s"] <= t["render_s"] + 1e-3
    assert t["reference_s"] > 0 and t["audio_s"] > 0 and t["generate_s"] > 0 and t["export_s"] > 0
    assert (t["render_s"] > 0 and t["render_encode_s"] > 0 and t["glb_s"] > 0) == rendered
    if not rendered:
        assert t["render_s"] == t["render_encode_s"] == t["glb_s"] == 0
    assert report["real_time_factor"] == pytest.approx(t["total_s"] / report["duration_s"], rel=1e-6)
    assert report["device"].split(":")[0] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_same_seed_same_motion_and_no_render(inputs):
    root, ckpt = inputs
    runs = []
    for name in ("a", "b"):
        assert main(["generate", "--params", str(root / "ref.npz"), "--audio", str(root / "speech.wav"),
                     "--out", str(root / name), "--checkpoint", str(ckpt), "--steps", "2", "--no-render",
                     "--no-progress"]) == 0
        runs.append(FlameSequence.load(root / name / "params.npz").params)
        assert not (root / name / "depth.mp4").exists()
        check_timings(json.loads((root / name / "report.json").read_text()), rendered=False)
    assert np.array_equal(runs[0], runs[1])


def test_bfloat16_generator_is_close_to_float32(inputs):
    """The bundled (trained) checkpoint in bf16: really reduced precision, and close to float32 (a fresh
    network predicts zero velocity in any precision, so it cannot show either)."""
    pytest.importorskip("hama")
    root, _ = inputs
    params = {}
    for dtype in ("float32", "bfloat16"):
        out = root / f"dtype_{dtype}"
        assert main(["generate", "--params", str(root / "ref.npz"), "--audio", str(root / "speech.wav"),
                     "--out", str(out), "--steps", "8", "--no-render", "--no-progress", "--dtype", dtype]) == 0
        assert json.loads((out / "report.json").read_text())["dtype"] == dtype
        params[dtype] = FlameSequence.load(out / "params.npz").params
    assert not np.array_equal(params["float32"], params["bfloat16"])  # it really ran in bf16
    np.testing.assert_allclose(params["bfloat16"], params["float32"], atol=0.1)


def test_even_smoothing_window_is_taken_and_bad_pairs_fail_before_sampling(inputs, capsys):
    from x3dtalker_core.pipeline import smoothing_option

    assert smoothing_option(6, 2) == (6, 2) and smoothing_option(1, 3) is None and smoothing_option(0, 0) is None
    root, ckpt = inputs
    assert main(["generate", "--params", str(root / "ref.npz"), "--audio", str(root / "speech.wav"),
                 "--out", str(root / "even"), "--checkpoint", str(ckpt), "--steps", "1", "--no-render",
                 "--smoothing", "6,2", "--no-progress"]) == 0
    assert FlameSequence.load(root / "even" / "params.npz").metadata["smoothing"] == [6, 2]
    assert main(["generate", "--params", str(root / "ref.npz"), "--audio", str(root / "speech.wav"),
                 "--out", str(root / "bad"), "--checkpoint", str(ckpt), "--smoothing", "3,3"]) == 2
    assert "smoothing window (3)" in capsys.readouterr().err and not (root / "bad").exists()


def test_bad_inputs_are_one_line_errors(inputs, capsys):
    root, ckpt = inputs
    assert main(["generate", "--params", str(root / "ref.npz"), "--audio", str(root / "missing.wav"),
                 "--out", str(root / "x"), "--checkpoint", str(ckpt)]) == 2
    assert "missing.wav" in capsys.readouterr().err
    assert main(["generate", "--params", str(root / "ref.npz"), "--audio", str(root / "speech.wav"),
                 "--out", str(root / "x"), "--checkpoint", str(ckpt), "--pose-style", "dance like nobody watches"]) == 2
    err = capsys.readouterr().err
    assert "not a preset" in err and "--llm-url" in err


def test_photo_to_video(inputs):
    """The README main job on the shipped portrait (needs the MediaPipe face models)."""
    from x3dtalker_core.assets import try_find_asset

    if try_find_asset("mediapipe_face_mesh") is None:
        pytest.skip("MediaPipe face models not installed (python -m x3dtalker_core assets install-mediapipe)")
    root, ckpt = inputs
    media = REPO / "example_workflows" / "media"
    out = root / "photo"
    assert main(["generate", "--image", str(media / "x3dtalker_portrait.png"), "--audio", str(root / "speech.wav"),
                 "--out", str(out), "--checkpoint", str(ckpt), "--steps", "2", "--size", "64", "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["reference"]["backend"] == "landmarks" and report["reference"]["confidence"] > 0.5


def test_readme_main_job_with_bundled_checkpoint(tmp_path):
    """README main job: shipped portrait + speech, default (bundled bootstrap) checkpoint, all outputs."""
    from x3dtalker_core.assets import try_find_asset
    from x3dtalker_core.audio import extract_features
    from x3dtalker_core.eval.metrics import pearson_r

    if try_find_asset("mediapipe_face_mesh") is None:
        pytest.skip("MediaPipe face models not installed (python -m x3dtalker_core assets install-mediapipe)")
    if try_find_asset("generator") is None:
        pytest.skip("no generator checkpoint installed or bundled")
    media = REPO / "example_workflows" / "media"
    out = tmp_path / "out"
    assert main(["generate", "--image", str(media / "x3dtalker_portrait.png"),
                 "--audio", str(media / "x3dtalker_speech.wav"), "--out", str(out), "--size", "128",
                 "--no-progress"]) == 0
    for name in ("params.npz", "preview.mp4", "depth.mp4", "mesh.glb", "report.json"):
        assert (out / name).is_file(), name
    seq = FlameSequence.load(out / "params.npz")
    amplitude = extract_features(media / "x3dtalker_speech.wav").amplitude[:, 0]
    # the bootstrap opens the mouth with the speech
    assert pearson_r(seq.jaw_pose[:, 0], amplitude) > 0.3
    assert json.loads((out / "report.json").read_text())["render"]["camera"] == "photo"
