"""Per-dimension normalisation of the delta target and of the reference input.

Statistics are computed from the training data (``train/stats.py``, streaming Welford) and live in
the network as buffers, so every checkpoint carries the statistics it was trained with (SPEC §1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import X3DError
from ..params import PARAM_DIM

STD_FLOOR = 1e-5
"""Smallest std used when dividing: constant channels (all-zero detail codes, say) stay finite."""


@dataclass(frozen=True)
class NormStats:
    """Mean/std (284,) of ``delta = frame - first frame of its clip`` and of absolute reference frames.

    Attributes:
        delta_mean, delta_std: statistics of the delta (the flow target), population std.
        ref_mean, ref_std: statistics of absolute frames (the reference input); the authors' released
            file has only delta statistics, in which case these are 0 and 1.
        frames: number of frames the statistics were computed from (0 when unknown).
    """

    delta_mean: np.ndarray
    delta_std: np.ndarray
    ref_mean: np.ndarray
    ref_std: np.ndarray
    frames: int = 0

    def __post_init__(self) -> None:
        for name in ("delta_mean", "delta_std", "ref_mean", "ref_std"):
            arr = np.asarray(getattr(self, name), dtype=np.float32)
            if arr.shape != (PARAM_DIM,):
                raise X3DError(f"normalisation {name} must have shape ({PARAM_DIM},), got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise X3DError(f"normalisation {name} contains NaN or infinite values")
            object.__setattr__(self, name, arr)
        if np.any(self.delta_std < 0) or np.any(self.ref_std < 0):
            raise X3DError("normalisation std values must be non-negative")

    @classmethod
    def identity(cls) -> NormStats:
        zeros, ones = np.zeros(PARAM_DIM, np.float32), np.ones(PARAM_DIM, np.float32)
        return cls(zeros, ones, zeros, ones)

    @classmethod
    def from_authors_npz(cls, path: str) -> NormStats:
        """Read the authors' ``data_mean_std.npz`` (keys ``data_mean``, ``data_std``: delta statistics)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                mean, std = data["data_mean"], data["data_std"]
        except (OSError, KeyError, ValueError) as exc:
            raise X3DError(f"cannot read normalisation statistics {path}: {exc}") from None
        zeros, ones = np.zeros(PARAM_DIM, np.float32), np.ones(PARAM_DIM, np.float32)
        return cls(mean, std, zeros, ones)


class Normalizer(nn.Module):
    """Holds :class:`NormStats` as buffers; maps deltas and references to and from model space."""

    def __init__(self, stats: NormStats | None = None):
        super().__init__()
        stats = stats or NormStats.identity()
        for name in ("delta_mean", "delta_std", "ref_mean", "ref_std"):
            self.register_buffer(name, torch.from_numpy(getattr(stats, name).copy()))
        self.register_buffer("frames", torch.tensor(stats.frames, dtype=torch.int64))

    def set_stats(self, stats: NormStats) -> None:
        for name in ("delta_mean", "delta_std", "ref_mean", "ref_std"):
            getattr(self, name).copy_(torch.from_numpy(getattr(stats, name)))
        self.frames.fill_(int(stats.frames))

    def stats(self) -> NormStats:
        return NormStats(*(getattr(self, n).detach().cpu().float().numpy() for n in
                           ("delta_mean", "delta_std", "ref_mean", "ref_std")), frames=int(self.frames))

    def normalize_delta(self, delta: torch.Tensor) -> torch.Tensor:
        """(..., 284) delta -> model space (always computed in float32: see REFERENCE-NOTES §3.3)."""
        return (delta.float() - self.delta_mean) / self.delta_std.clamp_min(STD_FLOOR)

    def denormalize_delta(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * self.delta_std.clamp_min(STD_FLOOR) + self.delta_mean

    def normalize_reference(self, reference: torch.Tensor) -> torch.Tensor:
        return (reference.float() - self.ref_mean) / self.ref_std.clamp_min(STD_FLOOR)
