"""Hilbert amplitude envelope: AM recovery, silence, chunking, frame means, extrema."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import hilbert

from x3dtalker_core.audio import amplitude_envelope, envelope_extrema, frame_amplitude

SR = 16000


def am_tone(seconds=4.0, carrier=1000.0, mod=3.0, depth=0.6):
    t = np.arange(int(seconds * SR)) / SR
    modulation = 1 + depth * np.sin(2 * np.pi * mod * t)
    return (0.3 * modulation * np.sin(2 * np.pi * carrier * t)).astype(np.float32), 0.3 * modulation


def test_am_tone_envelope_recovers_the_modulation():
    x, truth = am_tone()
    env = amplitude_envelope(x)
    assert env.shape == x.shape and env.dtype == np.float32
    r = np.corrcoef(env, truth)[0, 1]
    assert r > 0.99
    amp = frame_amplitude(env)
    frame_truth = truth.reshape(-1, 640).mean(axis=1)
    assert amp.shape == (100, 1)
    assert np.corrcoef(amp[:, 0], frame_truth)[0, 1] > 0.99
    assert np.abs(amp[5:-5, 0] - frame_truth[5:-5]).max() < 0.01


def test_silence_gives_zero_envelope_without_nan():
    env = amplitude_envelope(np.zeros(SR, np.float32))
    assert np.isfinite(env).all() and env.max() == 0.0
    tiny = amplitude_envelope(np.full(SR, 1e-9, np.float32))
    assert np.isfinite(tiny).all() and tiny.max() < 1e-6
    assert envelope_extrema(frame_amplitude(env)).tolist() == [0, 24]


def test_chunked_transform_matches_one_shot_away_from_clip_edges():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=5 * SR) * np.sin(np.linspace(0, 20, 5 * SR)) ** 2).astype(np.float32)
    chunked = amplitude_envelope(x, chunk=8192)  # ten chunks, default one-second context
    full = np.abs(hilbert(x.astype(np.float64)))
    # The truncated Hilbert kernel leaves an error of about rms(x) / (pi sqrt(context)); white-ish
    # noise is the worst case (speech is ~4x better). The one-shot FFT wraps around at the clip
    # ends while ours mirrors, so the outer samples are not compared.
    err = (chunked - full)[2000:-2000]
    assert np.sqrt((err**2).mean()) < 5e-3 * np.sqrt((full**2).mean())
    assert np.abs(err).max() < 5e-3 * full.max()


def test_ten_minutes_runs_in_chunks():
    x = np.tile(am_tone(1.0)[0], 600)
    env = amplitude_envelope(x)
    assert env.shape == x.shape and np.isfinite(env).all()
    assert frame_amplitude(env).shape == (15000, 1)


def test_extrema_sit_on_modulation_peaks_and_troughs():
    x, _ = am_tone(seconds=4.0, mod=2.0, depth=0.8)  # peaks every 0.5 s = 12.5 frames
    amp = frame_amplitude(amplitude_envelope(x))
    idx = envelope_extrema(amp)
    assert idx[0] == 0 and idx[-1] == 99
    inner = idx[1:-1]
    # sin peaks at t = 0.125 + 0.5 k s (frame 3.125 + 12.5 k), troughs at 0.375 + 0.5 k s; extrema
    # closer than min_gap (3) to an end are dropped
    expected = np.sort(np.concatenate([3.125 + 12.5 * np.arange(8), 9.375 + 12.5 * np.arange(8)]))
    expected = expected[(expected > 2.5) & (expected < 97)]
    assert len(inner) == len(expected)
    assert np.abs(inner - expected).max() <= 1.0
    # a spacing larger than the half period keeps fewer anchors; a small max_gap adds anchors
    assert len(envelope_extrema(amp, min_gap=8)) < len(idx)
    assert np.diff(envelope_extrema(amp, max_gap=4)).max() <= 4


def test_extrema_fill_long_silences_and_handle_tiny_clips():
    gaps = np.diff(envelope_extrema(np.zeros(200), max_gap=50))
    assert gaps.max() <= 50 and gaps.sum() == 199
    assert envelope_extrema(np.zeros(1)).tolist() == [0]
    assert envelope_extrema(np.zeros(2)).tolist() == [0, 1]


@pytest.mark.parametrize("shape", [(7,), (7, 1)])
def test_extrema_accept_flat_and_column_arrays(shape):
    a = np.array([0, 1, 0, 1, 0, 1, 0], np.float32).reshape(shape)
    out = envelope_extrema(a, min_gap=1, smooth=1)
    assert out.tolist() == list(range(7))
