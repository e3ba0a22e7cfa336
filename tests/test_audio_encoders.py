"""Built-in offline encoders: mel (linguistic) and prosody (emotion)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from x3dtalker_core.audio import load_encoder
from x3dtalker_core.audio.encoders import MelEncoder, ProsodyEncoder
from x3dtalker_core.audio.encoders.mel import mel_filterbank
from x3dtalker_core.errors import X3DError

SR = 16000


def harmonic(seconds, f0, amp=0.3, sr=SR):
    t = np.arange(int(round(seconds * sr))) / sr
    f0 = np.broadcast_to(np.asarray(f0, np.float64), t.shape)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    return (amp * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.02, 0.04, 0.1, 1.0, 7.77])
@pytest.mark.parametrize("encoder", ["mel", "prosody"])
def test_shapes_follow_the_frame_grid(seconds, encoder):
    enc = load_encoder(encoder, "linguistic" if encoder == "mel" else "emotion")
    x = harmonic(seconds, 150.0)
    out = enc.encode(x)
    t = int(np.floor(seconds * 25 + 0.5))
    assert out.shape == (t, enc.dim) and out.dtype == np.float32
    assert np.isfinite(out).all()


def test_offline_encoders_say_they_are_not_the_papers():
    assert MelEncoder.paper is False and ProsodyEncoder.paper is False
    for cls in (MelEncoder, ProsodyEncoder):
        assert "WEAKER THAN THE PAPER" in sys.modules[cls.__module__].__doc__
        assert cls().describe()["paper"] is False


def test_mel_filterbank_matches_transformers():
    audio_utils = pytest.importorskip("transformers.audio_utils")
    ref = audio_utils.mel_filter_bank(
        num_frequency_bins=201, num_mel_filters=80, min_frequency=0.0, max_frequency=8000.0,
        sampling_rate=SR, norm="slaney", mel_scale="slaney",
    )
    ours = mel_filterbank()
    assert ours.shape == ref.shape == (201, 80)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)


def test_mel_chunks_match_one_shot_and_tone_lands_in_its_band():
    x = harmonic(5.3, 440.0) + 0.01 * np.random.default_rng(0).normal(size=int(5.3 * SR)).astype(np.float32)
    one = MelEncoder(chunk_frames=10_000).encode(x)
    chunked = MelEncoder(chunk_frames=17).encode(x)
    np.testing.assert_allclose(chunked, one, atol=1e-4)
    # the loudest of 80 bands in every 10 ms sub-frame is the one holding 440 Hz
    bands = one.reshape(-1, 80)
    fb = mel_filterbank()
    band_440 = fb[int(round(440 / 8000 * 200))].argmax()
    assert np.mean(bands[4:-4].argmax(axis=1) == band_440) > 0.95


def test_mel_of_silence_is_the_log_floor():
    out = MelEncoder().encode(np.zeros(SR, np.float32))
    assert np.isfinite(out).all() and np.allclose(out, -10.0)


def test_prosody_tracks_pitch_and_voicing():
    enc = ProsodyEncoder()
    x = harmonic(2.0, 150.0)
    out = enc.encode(x)
    log_f0, voicing = out[2:-2, 0], out[2:-2, 1]
    assert np.abs(log_f0 - np.log2(1.5)).max() < 0.02  # 150 Hz within ~1.4 %
    assert voicing.min() == 1.0
    # a rising glide: F0 goes up, and so does its delta
    glide = enc.encode(harmonic(2.0, np.linspace(100, 300, 2 * SR)))
    assert np.all(np.diff(glide[3:-3, 0]) > 0)
    assert glide[3:-3, 5].min() > 0
    expected = np.log2(np.linspace(100, 300, 2 * SR)[320::640][3:-3] / 100)
    assert np.abs(glide[3:-3, 0] - expected).max() < 0.03


def test_prosody_unvoiced_noise_and_silence():
    enc = ProsodyEncoder()
    rng = np.random.default_rng(1)
    noise = enc.encode((0.1 * rng.normal(size=SR)).astype(np.float32))
    assert noise[:, 1].mean() < 0.1  # noise is (almost) never voiced
    silence = enc.encode(np.zeros(SR, np.float32))
    assert np.isfinite(silence).all()
    assert silence[:, 1].max() == 0.0 and silence[:, 0].max() == 0.0
    assert np.allclose(silence[:, 2], -10.0)


def test_prosody_fills_unvoiced_gaps_and_tracks_loudness():
    enc = ProsodyEncoder()
    x = np.concatenate([harmonic(1.0, 200.0), np.zeros(SR // 2, np.float32), harmonic(1.0, 100.0, amp=0.03)])
    out = enc.encode(x)
    gap = out[28:35]
    assert gap[:, 1].max() == 0.0
    # log-F0 across the gap is interpolated between 1.0 (200 Hz) and 0.0 (100 Hz)
    assert np.all(np.diff(gap[:, 0]) <= 1e-6) and 0.0 < gap[:, 0].mean() < 1.0
    assert out[5:20, 2].mean() > out[45:60, 2].mean() + 1.5  # 20 dB quieter = 2 Bels


def test_prosody_chunks_match_one_shot():
    x = harmonic(4.1, np.linspace(120, 220, int(4.1 * SR)))
    a = ProsodyEncoder(chunk_frames=10_000).encode(x)
    b = ProsodyEncoder(chunk_frames=13).encode(x)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_unknown_encoder_names_and_paths_for_builtins():
    with pytest.raises(X3DError, match="unknown linguistic encoder 'hubert'"):
        load_encoder("hubert", "linguistic")
    with pytest.raises(X3DError, match="takes no model path"):
        load_encoder("mel", "linguistic", model="/some/folder")
