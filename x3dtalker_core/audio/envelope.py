"""Amplitude: Hilbert envelope ``|analytic(x)|`` (paper Eq. 5 input), frame means, and its extrema
(the noise anchors).

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


def envelope_extrema(amplitude: np.ndarray, min_gap: int = 3, max_gap: int = 50, smooth: int = 3) -> np.ndarray:
    """Noise-anchor frames: the extrema of the per-frame amplitude plus both ends (paper §3.2, SPEC §3).

    The paper anchors the generator's initial noise at the extrema of the amplitude envelope (plus
    the sequence ends) and interpolates linearly in between; this is the one implementation of that
    rule (``model.flow.anchor_frames`` calls it for ``flow.anchors = envelope``). Steps:

    1. moving average of ``smooth`` frames (edge-padded), so sample noise does not make extrema;
    2. every local maximum (``>=`` left, ``>`` right) and minimum (``<=`` left, ``<`` right);
    3. keep an extremum only when it is at least ``min_gap`` frames after the previous kept anchor
       and before the last frame;
    4. split every gap longer than ``max_gap`` frames evenly (a long silence has no extrema and
       would otherwise be one long ramp between two anchors).

    Args:
        amplitude: (T,) or (T, 1) per-frame amplitude (normalised or not: only its shape matters).
        min_gap: smallest spacing of two anchors, frames (>= 1).
        max_gap: largest spacing of two anchors, frames (>= min_gap).
        smooth: moving-average width in frames (1 = none).
    Returns:
        (S,) sorted unique int64 frame indices, first 0 and last T - 1 ([0] when T <= 1).
    """
    a = np.asarray(amplitude, dtype=np.float64).reshape(-1)
    t = a.shape[0]
    if t <= 1:
        return np.zeros(1, np.int64)
    width = max(1, int(smooth))
    smoothed = np.convolve(np.pad(a, (width // 2, width - 1 - width // 2), mode="edge"), np.ones(width) / width,
                           "valid")
    left, mid, right = smoothed[:-2], smoothed[1:-1], smoothed[2:]
    is_max = (mid >= left) & (mid > right)
    is_min = (mid <= left) & (mid < right)
    extrema = np.flatnonzero(is_max | is_min) + 1
    kept = [0]
    for f in extrema:
        if f - kept[-1] >= min_gap and (t - 1) - f >= min_gap:
            kept.append(int(f))
    kept.append(t - 1)
    filled = [kept[0]]
    for f in kept[1:]:
        start = filled[-1]
        gap = f - start
        if gap > max_gap:
            pieces = int(np.ceil(gap / max_gap))
            filled.extend([int(round(start + gap * i / pieces)) for i in range(1, pieces)])
        filled.append(int(f))
    return np.unique(np.asarray(filled, np.int64))
