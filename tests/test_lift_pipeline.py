"""`lift`: generated talking-head video -> FLAME sequence folder that the trainer reads and trains on."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import shared_models_dir

from x3dtalker_core.assets import try_find_asset
from x3dtalker_core.cli import main
from x3dtalker_core.data.curate.samples import (
    jaw_levels,
    make_talking_video,
    render_jaw_atlas,
    speech,
)
from x3dtalker_core.data.layout import read_envelope, read_sequence_dir
from x3dtalker_core.data.lift import (
    LiftConfig,
    assemble_sequence,
    fill_missing,
    smooth_track,
)
from x3dtalker_core.data.lift.pipeline import FrameTrack
from x3dtalker_core.data.synth.tts import engine_available
from x3dtalker_core.errors import X3DError


def test_fill_missing_interpolates_and_holds_ends():
    v = np.arange(6, dtype=np.float32)[:, None] * np.array([[1.0, 2.0]], np.float32)
    found = np.array([False, True, False, False, True, False])
    out = fill_missing(v, found)
    assert np.allclose(out[:, 0], [1, 1, 2, 3, 4, 4]) and np.allclose(out[:, 1], 2 * out[:, 0])


def test_assemble_one_identity_and_smoothing():
    rng = np.random.default_rng(0)
    t = 40
    params = rng.normal(size=(t, 284)).astype(np.float32)
    found = np.ones(t, bool)
    found[[3, 10]] = False
    track = FrameTrack(params, rng.normal(size=(t, 3)).astype(np.float32), found, np.ones(t, np.float32))
    seq = assemble_sequence(track, LiftConfig(smooth=7))
    assert np.allclose(seq.shape, np.median(params[found, :100], axis=0))  # one identity for the clip
    assert np.diff(seq.exp, axis=0).std() < 0.6 * np.diff(params[:, 100:150], axis=0).std()  # smoother
    assert np.allclose(seq.detail[found], params[found, 156:])  # detail codes kept as estimated
    assert np.allclose(seq.detail[3], (params[2, 156:] + params[4, 156:]) / 2, atol=1e-5)  # gap filled
    assert np.array_equal(smooth_track(params[:3], 7), params[:3])  # shorter than the window: left as it is
    line = np.linspace(0, 1, 20, dtype=np.float32)[:, None] ** 2
    assert np.allclose(smooth_track(line, 7), line, atol=1e-6)  # order 2 keeps a parabola
    with pytest.raises(X3DError, match="odd"):
        LiftConfig(smooth=4).check()


NEEDS_MODELS = [
    pytest.mark.skipif(shared_models_dir() is None, reason="X3DTALKER_MODELS has no flame/ folder (dev head)"),
    pytest.mark.skipif(try_find_asset("mediapipe_face_mesh") is None or try_find_asset("mediapipe_face_detector") is None,
                       reason="MediaPipe face models not installed (python -m x3dtalker_core assets install-mediapipe)"),
    pytest.mark.skipif(not engine_available("flite"), reason="flite TTS not installed (apt-get install flite)"),
]


@pytest.fixture(scope="module")
def lifted(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lift")
    atlas = render_jaw_atlas(128, levels=5)
    audio = speech(2.0)
    make_talking_video(root / "clips" / "talk.mp4", audio, atlas)
    (root / "clips" / "blank.mp4").parent.mkdir(exist_ok=True)
    from x3dtalker_core.render.video import write_mp4

    write_mp4(root / "clips" / "blank.mp4", np.full((10, 128, 128, 3), 90, np.uint8), 25, audio=audio[:6400])
    code = main(["lift", "--videos", str(root / "clips"), "--out", str(root / "data"), "--smooth", "5", "--no-progress"])
    assert code == 0
    return root, audio


def needs_models(test):
    for mark in NEEDS_MODELS:
        test = mark(test)
    return test


@needs_models
def test_lift_writes_the_dataset_layout(lifted):
    root, audio = lifted
    rows = {json.loads(line)["id"]: json.loads(line) for line in (root / "data" / "lift_manifest.jsonl").read_text().splitlines()}
    assert rows["talk.mp4"]["status"] == "lifted" and rows["talk.mp4"]["missing_frames"] == 0
    assert rows["blank.mp4"]["status"] == "failed" and "no face" in rows["blank.mp4"]["reason"]
    seq, wav = read_sequence_dir(root / "data" / "talk")
    assert seq.params.shape == (50, 284) and seq.cam.shape == (50, 3)
    assert np.isfinite(seq.params).all() and np.isfinite(seq.cam).all() and (seq.cam[:, 0] > 0).all()
    import soundfile as sf

    samples, rate = sf.read(wav, dtype="float32")
    assert rate == 16000 and samples.shape == (50 * 640,)  # the clip's speech, cut to its 50 frames
    assert np.corrcoef(samples, audio[: samples.size])[0, 1] > 0.9
    assert np.allclose(seq.shape, seq.shape[0])  # one identity
    jaw_truth = jaw_levels(audio, 50, 5)
    assert np.corrcoef(jaw_truth, seq.params[:, 153])[0, 1] > 0.8  # the jaw follows the speech
    assert read_envelope(root / "data" / "talk").shape == (50 * 640,)
    assert seq.metadata["backend"] == "landmarks"
    # resume: a second run does nothing
    assert main(["lift", "--videos", str(root / "clips"), "--out", str(root / "data"), "--no-progress"]) == 0
    assert len((root / "data" / "lift_manifest.jsonl").read_text().splitlines()) == 2


@needs_models
def test_lifted_data_trains(lifted):
    from x3dtalker_core.train.config import apply_overrides, run_preset
    from x3dtalker_core.train.trainer import train

    root, _ = lifted
    cfg = apply_overrides(run_preset("small"), [
        "window=40", "train.batch_size=2", "train.max_steps=3", "train.log_every=1", "train.eval_every=100",
        "train.save_every=0", "model.hidden=32", "model.heads=2"])
    result = train(cfg, [root / "data"], root / "run", show_progress=False)
    losses = [loss for _, loss in result.losses]
    assert len(losses) == 3 and np.isfinite(losses).all()
    assert result.checkpoint.is_file()
