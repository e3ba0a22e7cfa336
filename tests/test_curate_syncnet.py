"""SyncNet preprocessing matches syncnet_python: MFCCs of int16 PCM, face-track crops around the lower face."""

from __future__ import annotations

import numpy as np
import pytest

from x3dtalker_core.data.curate.syncnet import (
    LIP_SIZE,
    PAD_VALUE,
    crop_face,
    face_track,
    face_track_crops,
    syncnet_mfcc,
    to_int16_scale,
)


def speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
    return np.clip(x, -1, 1).astype(np.float32)


def test_mfcc_matches_python_speech_features_on_int16():
    psf = pytest.importorskip("python_speech_features", reason="python_speech_features (test dependency) missing")
    import io

    import soundfile as sf
    from scipy.io import wavfile

    # a clip's 16-bit WAV, read as we read audio (float in [-1, 1]) and as syncnet_python reads it (raw int16)
    pcm16 = np.round(speech(1.37) * 32767).astype(np.int16)
    buf = io.BytesIO()
    wavfile.write(buf, 16000, pcm16)
    buf.seek(0)
    audio, _ = sf.read(buf, dtype="float32")
    buf.seek(0)
    rate, pcm = wavfile.read(buf)
    assert pcm.dtype == np.int16 and np.array_equal(to_int16_scale(audio), pcm)
    expected = psf.mfcc(pcm, rate)
    ours = syncnet_mfcc(audio)
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 1e-3 * np.abs(expected).max()
    # on float audio c0 would be 2 ln 32768 lower: the shift the weights never saw
    from x3dtalker_core.data.curate.syncnet import mfcc

    shift = syncnet_mfcc(audio)[:, 0] - mfcc(audio)[:, 0]
    assert np.median(shift) == pytest.approx(2 * np.log(32768), abs=0.01)


def test_face_track_crop_follows_syncnet_python():
    h, w = 360, 480
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, :, 0] = (np.arange(w) // 2).astype(np.uint8)[None, :]  # x ramp
    frame[:, :, 1] = (np.arange(h) // 2).astype(np.uint8)[:, None]  # y ramp
    cx, cy, half = 240.0, 150.0, 50.0
    crop = crop_face(frame, cx, cy, half).astype(int)
    assert crop.shape == (LIP_SIZE, LIP_SIZE, 3)
    # the crop spans y in [cy - half, cy + 1.8 half) and x in [cx - 1.4 half, cx + 1.4 half)
    top, bottom = crop[0, LIP_SIZE // 2, 1] * 2, crop[-1, LIP_SIZE // 2, 1] * 2
    left, right = crop[LIP_SIZE // 2, 0, 0] * 2, crop[LIP_SIZE // 2, -1, 0] * 2
    assert abs(top - (cy - half)) <= 3 and abs(bottom - (cy + 1.8 * half)) <= 3
    assert abs(left - (cx - 1.4 * half)) <= 3 and abs(right - (cx + 1.4 * half)) <= 3
    # beyond the frame: syncnet_python's grey padding
    corner = crop_face(frame, 10.0, 10.0, 50.0)
    assert np.all(corner[0, 0] == PAD_VALUE)


def test_face_track_interpolates_and_median_smooths():
    t = 40
    boxes = np.tile(np.array([100.0, 80.0, 200.0, 200.0]), (t, 1))
    boxes[7] += 60.0  # one wild detection
    boxes[20:24] = np.nan  # four missed frames
    track = face_track(boxes)
    assert track.shape == (t, 3)
    assert np.allclose(track[:, 0], 150.0) and np.allclose(track[:, 1], 140.0)
    assert np.allclose(track[:, 2], 60.0)  # half the longer side (120 / 2)
    assert face_track(np.full((10, 4), np.nan)) is None
    frames = np.zeros((t, 300, 300, 3), np.uint8)
    crops = face_track_crops(frames, boxes)
    assert crops.shape == (t, LIP_SIZE, LIP_SIZE, 3)


def test_auto_says_once_that_it_falls_back_to_the_motion_check(monkeypatch, tmp_path, caplog):
    from x3dtalker_core.data.curate.pipeline import CurateConfig, load_models

    monkeypatch.setenv("X3DTALKER_MODELS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with caplog.at_level("WARNING"):
        models = load_models(CurateConfig(language=False, sync_model="auto"))
    assert models.sync_method == "motion"
    said = [r.getMessage() for r in caplog.records if "SyncNet" in r.getMessage()]
    assert len(said) == 1 and "mouth-motion" in said[0]
    caplog.clear()
    with caplog.at_level("WARNING"):
        load_models(CurateConfig(language=False, sync_model="motion"))  # asked for: nothing to say
    assert not [r for r in caplog.records if "SyncNet" in r.getMessage()]


class BoxDetector:
    """Stands in for BlazeFace: one fixed face box per frame (or none)."""

    def __init__(self, box):
        self.box = box

    def detect(self, frame):
        from x3dtalker_core.reconstruct.detector import FaceDetection

        if self.box is None:
            return []
        return [FaceDetection(np.array(self.box, np.float32), np.zeros((6, 2), np.float32), 0.9)]


def test_syncnet_scores_the_face_track_crops_and_rejects_clips_without_a_face():
    import torch

    from x3dtalker_core.data.curate.pipeline import Models, _sync
    from x3dtalker_core.data.curate.syncnet import SyncNet

    torch.manual_seed(0)
    net = SyncNet(width=0.05, embed=16).eval()
    frames = np.random.default_rng(0).integers(0, 255, (16, 160, 160, 3), dtype=np.uint8)
    audio = speech(16 / 25)
    score = _sync(frames, audio, Models(syncnet=net, face_detector=BoxDetector([40, 30, 120, 130]),
                                        sync_method="syncnet"))
    assert score is not None and score.method == "syncnet" and score.curve.shape == (31,)
    assert _sync(frames, audio, Models(syncnet=net, face_detector=BoxDetector(None), sync_method="syncnet")) is None
