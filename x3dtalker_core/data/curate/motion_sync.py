"""Weights-free audio-visual sync check: mouth-region motion against loudness changes.

Used when no SyncNet weights are installed (``--sync-model motion``, or ``auto`` without the
asset). In a centred talking-head crop the mouth sits in the lower middle; its frame-to-frame pixel
change rises when the jaw moves, which happens when loudness changes. The two z-scored signals are
correlated at every offset within +-``max_offset`` frames: the best offset is the AV offset and
``best - median`` of the correlation curve the confidence. Weaker than SyncNet (any motion in the
region counts), so it suits clean, centred material; install SyncNet for in-the-wild sources.
"""

from __future__ import annotations

import numpy as np

from ... import SAMPLES_PER_FRAME
from .syncnet import SyncScore

MOUTH_ROWS = (0.55, 0.92)
MOUTH_COLS = (0.25, 0.75)


def mouth_motion(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T,) mean absolute grey change in the mouth region (0 for frame 0)."""
    t, h, w = frames.shape[:3]
    r0, r1 = int(h * MOUTH_ROWS[0]), int(h * MOUTH_ROWS[1])
    c0, c1 = int(w * MOUTH_COLS[0]), int(w * MOUTH_COLS[1])
    grey = frames[:, r0:r1, c0:c1].astype(np.float32).mean(axis=-1)
    motion = np.zeros(t, np.float32)
    motion[1:] = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    return motion


def loudness_change(audio: np.ndarray, num_frames: int) -> np.ndarray:
    """(N,) 16 kHz -> (T,) absolute change of per-frame RMS level (0 for frame 0)."""
    x = np.asarray(audio, np.float32).reshape(-1)
    x = np.pad(x, (0, max(0, num_frames * SAMPLES_PER_FRAME - x.size)))[: num_frames * SAMPLES_PER_FRAME]
    rms = np.sqrt((x.reshape(num_frames, SAMPLES_PER_FRAME) ** 2).mean(axis=1))
    change = np.zeros(num_frames, np.float32)
    change[1:] = np.abs(np.diff(rms))
    return change


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def motion_score(frames: np.ndarray, audio: np.ndarray, max_offset: int = 15) -> SyncScore:
    """Sync of (T, H, W, 3) uint8 frames at 25 fps with 16 kHz audio (see module doc)."""
    t = frames.shape[0]
    v = _zscore(mouth_motion(frames))
    a = _zscore(loudness_change(audio, t))
    curve = np.zeros(2 * max_offset + 1)
    for j, k in enumerate(range(-max_offset, max_offset + 1)):
        lo, hi = max(0, -k), min(t, t - k)
        if hi - lo > 1:
            curve[j] = float(np.mean(v[lo:hi] * a[lo + k : hi + k]))
    best = int(np.argmax(curve))
    return SyncScore(best - max_offset, float(curve[best] - np.median(curve)), curve, "motion")
