"""Normalisation statistics from the training data by a streaming (Welford/Chan) merge.

Per clip: delta = frame - first frame of the clip (the flow target) and the absolute frames (the
reference input). Each clip's mean and M2 are computed in float64 and merged into the running
totals (Chan et al.'s parallel update), so memory is one clip and the result is exact to float64
whatever the order; population std, like the authors' ``compute_global_mean_std``.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ..errors import X3DError
from ..model.normalization import NormStats
from ..params import PARAM_DIM


class RunningMoments:
    """Mean and M2 of (N, D) rows seen so far, merged batch by batch."""

    def __init__(self, dim: int):
        self.count = 0
        self.mean = np.zeros(dim, np.float64)
        self.m2 = np.zeros(dim, np.float64)

    def update(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.float64)
        n = rows.shape[0]
        if n == 0:
            return
        mean_b = rows.mean(axis=0)
        m2_b = ((rows - mean_b) ** 2).sum(axis=0)
        total = self.count + n
        diff = mean_b - self.mean
        self.mean = self.mean + diff * (n / total)
        self.m2 = self.m2 + m2_b + diff**2 * (self.count * n / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1))


def compute_stats(clips: Iterable[np.ndarray]) -> NormStats:
    """Delta and absolute statistics over clips of (T, 284) absolute parameters."""
    delta, absolute = RunningMoments(PARAM_DIM), RunningMoments(PARAM_DIM)
    for params in clips:
        params = np.asarray(params, np.float64)
        if params.ndim != 2 or params.shape[1] != PARAM_DIM:
            raise X3DError(f"clip parameters must have shape (T, {PARAM_DIM}), got {params.shape}")
        delta.update(params - params[:1])
        absolute.update(params)
    if delta.count == 0:
        raise X3DError("cannot compute normalisation statistics: no frames")
    return NormStats(delta.mean, delta.std, absolute.mean, absolute.std, frames=delta.count)


def save_stats(path, stats: NormStats) -> None:
    from ..io_utils import save_npz

    save_npz(path, delta_mean=stats.delta_mean, delta_std=stats.delta_std, ref_mean=stats.ref_mean,
             ref_std=stats.ref_std, frames=np.asarray(stats.frames))


def load_stats(path) -> NormStats:
    """Read statistics saved by :func:`save_stats`, or the authors' ``data_mean`` / ``data_std`` file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "delta_mean" in data.files:
                return NormStats(data["delta_mean"], data["delta_std"], data["ref_mean"], data["ref_std"],
                                 int(data["frames"]))
    except (OSError, ValueError, KeyError) as exc:
        raise X3DError(f"cannot read normalisation statistics {path}: {exc}") from None
    return NormStats.from_authors_npz(str(path))
