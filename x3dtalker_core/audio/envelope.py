"""Amplitude: Hilbert envelope ``|analytic(x)|`` (paper Eq. 5 input), frame means, and its extrema.

The analytic signal is computed in overlapping chunks, so a 10-minute clip never needs one
9.6-million-point FFT; the Hilbert kernel decays as 1/n, so one second of context on each side
makes chunk seams indistinguishable from the one-shot transform (checked in the tests).
"""

from __future__ import annotations

import numpy as np

from .. import SAMPLES_PER_FRAME

DEFAULT_CHUNK = 1 << 18  # 16.4 s of 16 kHz audio per FFT
DEFAULT_CONTEXT = 1 << 14  # 1.02 s of context on each side of a chunk


def amplitude_envelope(
    waveform: np.ndarray, chunk: int = DEFAULT_CHUNK, context: int = DEFAULT_CONTEXT
) -> np.ndarray:
    """Sample-level Hilbert envelope of a mono waveform; (N,) -> (N,) float32, >= 0.

    Chunks of ``chunk`` samples are transformed with ``context`` samples of real signal on each side
    (mirrored at the clip ends, which also tames the FFT's wrap-around at the edges).
    """
    from scipy.fft import next_fast_len
    from scipy.signal import hilbert

    x = np.asarray(waveform, dtype=np.float32).reshape(-1)
    n = x.size
    out = np.empty(n, dtype=np.float32)
    if n == 0:
        return out
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        lo, hi = start - context, stop + context
        seg = x[max(lo, 0) : min(hi, n)]
        pad_l, pad_r = max(0, -lo), max(0, hi - n)
        if pad_l or pad_r:
            seg = np.pad(seg, (pad_l, pad_r), mode="symmetric" if seg.size > 1 else "edge")
        analytic = hilbert(seg.astype(np.float64), N=next_fast_len(seg.size))
        out[start:stop] = np.abs(analytic[context : context + stop - start])
    return out


def frame_amplitude(envelope: np.ndarray, samples_per_frame: int = SAMPLES_PER_FRAME) -> np.ndarray:
    """Mean envelope over each frame's samples; (T * 640,) -> (T, 1) float32."""
    env = np.asarray(envelope, dtype=np.float32).reshape(-1)
    t = env.size // samples_per_frame
    return env[: t * samples_per_frame].reshape(t, samples_per_frame).mean(axis=1, keepdims=True)


def envelope_extrema(
    amplitude: np.ndarray,
    min_distance: int = 5,
    prominence: float = 0.05,
    smooth: int = 3,
    include_ends: bool = True,
) -> np.ndarray:
    """Frame indices of the local maxima and minima of the per-frame amplitude (noise anchors).

    Paper §3.2: the generator's initial noise is anchored at the extrema of the amplitude
    envelope, plus the sequence ends, and linearly interpolated in between.

    Args:
        amplitude: (T,) or (T, 1) per-frame amplitude (``AudioFeatures.amplitude``).
        min_distance: minimum spacing between two peaks (or two troughs), in frames (5 = 0.2 s).
        prominence: minimum prominence as a fraction of the clip's amplitude range; filters the
            ripple of a steady tone and noise in silence.
        smooth: width in frames of the moving average applied before the search (1 = none).
        include_ends: add frames 0 and T-1.

    Returns:
        (K,) int64 sorted unique frame indices in [0, T).
    """
    from scipy.signal import find_peaks

    a = np.asarray(amplitude, dtype=np.float64).reshape(-1)
    t = a.size
    if t == 0:
        return np.zeros(0, dtype=np.int64)
    if smooth > 1 and t >= smooth:
        kernel = np.ones(smooth) / smooth
        a = np.convolve(np.pad(a, (smooth // 2, smooth - 1 - smooth // 2), mode="edge"), kernel, mode="valid")
    span = float(a.max() - a.min())
    found: list[np.ndarray] = []
    if span > 1e-8:
        kw = dict(distance=max(1, int(min_distance)), prominence=prominence * span)
        found.append(find_peaks(a, **kw)[0])
        found.append(find_peaks(-a, **kw)[0])
    if include_ends:
        found.append(np.array([0, t - 1]))
    if not found:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(found).astype(np.int64))
