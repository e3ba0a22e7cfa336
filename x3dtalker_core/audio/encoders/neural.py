"""Shared machinery of the pretrained (50 Hz, whole-window) encoders: devices, windows, batching.

A clip is cut into equal-length overlapping windows (:func:`~..windows.plan_model_windows`),
windows are batched, run once under ``torch.inference_mode`` in eval mode (bf16 autocast on GPU),
and each 25 fps frame is linearly interpolated from the 50 Hz output of the window that gives it
the most context. Memory is bounded by ``batch_size`` windows, whatever the clip length.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import Optional

import numpy as np

from ... import SAMPLE_RATE
from ..windows import (
    CancelFn,
    ProgressFn,
    check_cancel,
    encoder_frame_positions,
    interpolate_rows,
    plan_model_windows,
)
from .base import FrameEncoder


def resolve_device(device=None):
    """``None``/``"auto"`` -> CUDA when available, else CPU; strings and ``torch.device`` pass through."""
    import torch

    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class WindowedModelEncoder(FrameEncoder):
    """Base of the WavLM and emotion2vec encoders.

    Args:
        device: torch device (None = CUDA if available).
        window_seconds: length of each model input window.
        overlap_seconds: overlap between consecutive windows; every frame keeps at least half of
            it as context on each side.
        batch_size: windows per forward pass (None: 1 on CPU, 8 on GPU).
        half: run in bf16 autocast on CUDA (default True); CPU always runs fp32.
    """

    receptive_field: int = 400
    hop: int = 320

    def __init__(
        self,
        device=None,
        window_seconds: float = 20.0,
        overlap_seconds: float = 2.0,
        batch_size: Optional[int] = None,
        half: bool = True,
    ) -> None:
        if window_seconds <= 0 or not 0 <= overlap_seconds < window_seconds:
            raise ValueError("need window_seconds > 0 and 0 <= overlap_seconds < window_seconds")
        self.device = resolve_device(device)
        self.window_samples = int(round(window_seconds * SAMPLE_RATE))
        self.hop_samples = self.window_samples - int(round(overlap_seconds * SAMPLE_RATE))
        self.batch_size = int(batch_size) if batch_size else (8 if self.device.type == "cuda" else 1)
        self.half = bool(half)

    # Subclasses set ``_dim`` (feature width), ``_identity`` (cache key) and ``source`` when they load.
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        return self._identity

    def describe(self) -> dict:
        return {**super().describe(), "model": self.source.label}

    def num_steps(self, num_frames: int) -> int:
        n = num_frames * 640
        windows = plan_model_windows(n, num_frames, self.window_samples, self.hop_samples)
        return -(-len(windows) // self.batch_size)

    def _autocast(self):
        import torch

        if self.half and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @abstractmethod
    def _forward(self, batch):
        """(B, L) float32 tensor on ``self.device`` -> (B, n, D) tensor of 50 Hz features."""

    def _encode_frames(
        self, waveform: np.ndarray, num_frames: int, progress: Optional[ProgressFn], cancel: Optional[CancelFn]
    ) -> np.ndarray:
        import torch

        windows = plan_model_windows(waveform.size, num_frames, self.window_samples, self.hop_samples)
        out = np.empty((num_frames, self.dim), dtype=np.float32)
        batches = [windows[i : i + self.batch_size] for i in range(0, len(windows), self.batch_size)]
        for b, group in enumerate(batches):
            check_cancel(cancel)
            x = np.stack([waveform[w.start : w.start + w.length] for w in group])
            with torch.inference_mode(), self._autocast():
                h = self._forward(torch.from_numpy(x).to(self.device))
            h = h.float().cpu().numpy()
            for w, hw in zip(group, h):
                frames = np.arange(w.keep_from, w.keep_to)
                pos = encoder_frame_positions(w.start, frames, self.receptive_field, self.hop)
                out[w.keep_from : w.keep_to] = interpolate_rows(hw, pos)
            if progress is not None:
                progress(b + 1, len(batches))
        return out
