"""Sliding windows with cross-fade, for clips longer than the training window (paper App. B.2).

Windows all have the training length (the last one is shifted left to end at the clip end), are
spread evenly so consecutive windows overlap by at least ``overlap`` frames, and are blended with
linear ramps that fall to ~0 at each window's inner edges, so the blend is continuous at seams.
Every window is anchored to the same reference, so identity cannot drift between windows.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import X3DError


def plan_windows(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, stop) of every window covering ``num_frames`` frames.

    One window of the whole clip when it fits; otherwise n = ceil((T - overlap) / (window - overlap))
    windows of ``window`` frames with evenly spaced starts from 0 to T - window.
    """
    if num_frames < 1:
        raise X3DError("cannot plan windows for an empty clip")
    if not 0 <= overlap < window:
        raise X3DError(f"window overlap must be in [0, {window}), got {overlap}")
    if num_frames <= window:
        return [(0, num_frames)]
    n = math.ceil((num_frames - overlap) / (window - overlap))
    starts = np.round(np.linspace(0, num_frames - window, n)).astype(int)
    return [(int(s), int(s) + window) for s in starts]


def window_weights(plan: list[tuple[int, int]]) -> list[np.ndarray]:
    """Cross-fade weight (L,) of each window: 1 inside, linear ramps over the overlap with neighbours."""
    weights = []
    for i, (start, stop) in enumerate(plan):
        w = np.ones(stop - start, np.float32)
        if i > 0:
            ov = plan[i - 1][1] - start
            if ov > 0:
                w[:ov] = np.minimum(w[:ov], np.arange(1, ov + 1, dtype=np.float32) / (ov + 1))
        if i < len(plan) - 1:
            ov = stop - plan[i + 1][0]
            if ov > 0:
                w[-ov:] = np.minimum(w[-ov:], np.arange(ov, 0, -1, dtype=np.float32) / (ov + 1))
        weights.append(w)
    return weights


class CrossFade:
    """Accumulates weighted window outputs into one (T, D) clip; memory = the output plus (T,) weights."""

    def __init__(self, num_frames: int, dim: int):
        self.sum = np.zeros((num_frames, dim), np.float32)
        self.weight = np.zeros(num_frames, np.float32)

    def add(self, start: int, values: np.ndarray, weight: np.ndarray) -> None:
        """values (L, D) for frames [start, start + L) with weights (L,)."""
        stop = start + values.shape[0]
        self.sum[start:stop] += values * weight[:, None]
        self.weight[start:stop] += weight

    def result(self) -> np.ndarray:
        """(T, D) blended clip (in place: the accumulator is consumed)."""
        if np.any(self.weight <= 0):
            raise RuntimeError("some frames were not covered by any window")
        self.sum /= self.weight[:, None]
        return self.sum
