"""Blind speech SNR estimate (paper Appendix B.1, step 2).

Speech alternates between active stretches and pauses, so the quietest short frames of a clip measure
its noise floor and the louder half measures speech plus noise:
``SNR = 10 log10((P_active - P_noise) / P_noise)`` with ``P_noise`` the mean power of the quietest
``noise_quantile`` of 20 ms frames and ``P_active`` the mean power of the frames above the median.
Stationary noise (hum, hiss, crowd, music beds) raises the floor and lowers the estimate; clean
studio speech reads high (capped at :data:`MAX_SNR_DB`).
"""

from __future__ import annotations

import numpy as np

from ... import SAMPLE_RATE

MAX_SNR_DB = 100.0
SILENCE_DBFS = -70.0
"""Clips whose loudest 20 ms frame is below this level (dB re full scale) count as silent."""


def frame_powers(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, frame_s: float = 0.02) -> np.ndarray:
    """(N,) -> (F,) mean power of non-overlapping ``frame_s`` frames (a trailing partial frame dropped)."""
    n = max(1, int(round(frame_s * sample_rate)))
    x = np.asarray(audio, np.float64).reshape(-1)
    frames = x[: x.size // n * n].reshape(-1, n)
    return (frames**2).mean(axis=1)


def estimate_snr_db(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, noise_quantile: float = 0.1) -> float | None:
    """SNR of a speech clip in dB, or None when the clip is silent (or shorter than a few frames)."""
    p = frame_powers(audio, sample_rate)
    if p.size < 10 or 10 * np.log10(p.max() + 1e-20) < SILENCE_DBFS:
        return None
    p = np.sort(p)
    noise = p[: max(1, int(p.size * noise_quantile))].mean()
    active = p[p.size // 2 :].mean()
    if noise <= active * 10 ** (-MAX_SNR_DB / 10):
        return MAX_SNR_DB
    return float(np.clip(10 * np.log10(max(active - noise, 1e-30) / noise), -MAX_SNR_DB, MAX_SNR_DB))
