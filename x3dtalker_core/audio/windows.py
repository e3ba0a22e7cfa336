"""Chunking helpers that keep memory flat on long audio, and 50 Hz -> 25 fps resampling.

Two kinds of chunking:

* :func:`frame_chunks` + :func:`padded_slice` for local features (mel, prosody) whose value at a
  frame depends on a few hundred samples around it: a chunk plus its context gives exactly the
  one-shot result.
* :func:`plan_model_windows` for the neural encoders (WavLM, emotion2vec), whose receptive field
  is the whole input: equal-length overlapping windows (so they batch without padding, which
  would change WavLM's GroupNorm statistics), each frame taken from the window whose centre is
  nearest, i.e. where the frame has the most context on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .. import SAMPLES_PER_FRAME
from ..errors import Cancelled, X3DError

ProgressFn = Callable[[int, int], None]
"""``progress(done, total)``: called after each unit of work."""

CancelFn = Callable[[], bool]
"""Returns True when the user asked to stop; may also raise its own exception (ComfyUI's does)."""


class EncodingCancelled(Cancelled):
    """The caller's cancellation check asked to stop."""


def check_cancel(cancel: Optional[CancelFn]) -> None:
    if cancel is not None and cancel():
        raise EncodingCancelled("audio encoding cancelled")


def frame_chunks(num_frames: int, chunk_frames: int) -> list[tuple[int, int]]:
    """``[(f0, f1), ...]`` covering ``range(num_frames)`` in pieces of at most ``chunk_frames``."""
    step = max(1, int(chunk_frames))
    return [(f, min(f + step, num_frames)) for f in range(0, num_frames, step)]


def padded_slice(x: np.ndarray, start: int, stop: int, mode: str = "constant") -> np.ndarray:
    """``x[start:stop]`` where indices outside ``[0, len(x))`` are filled by ``np.pad`` ``mode``."""
    n = x.size
    seg = x[max(start, 0) : max(min(stop, n), 0)]
    pad_l, pad_r = max(0, -start), max(0, stop - max(n, start))
    if pad_l or pad_r:
        if mode != "constant" and seg.size < 2:
            mode = "constant"
        seg = np.pad(seg, (pad_l, pad_r), mode=mode)
    return seg


@dataclass(frozen=True)
class ModelWindow:
    """One encoder input window: samples ``[start, start + length)``; it fills frames ``[keep_from, keep_to)``."""

    start: int
    length: int
    keep_from: int
    keep_to: int


def plan_model_windows(
    num_samples: int, num_frames: int, window_samples: int, hop_samples: int
) -> list[ModelWindow]:
    """Equal-length windows over a clip (the last one shifted back to end at the clip end).

    Clips no longer than ``window_samples`` are one window. Every frame belongs to exactly one
    window: the one whose centre is nearest the frame's centre.
    """
    if num_samples <= window_samples:
        return [ModelWindow(0, num_samples, 0, num_frames)]
    if hop_samples <= 0 or hop_samples > window_samples:
        raise ValueError("hop must be in (0, window]")
    starts = list(range(0, num_samples - window_samples, hop_samples)) + [num_samples - window_samples]
    starts = sorted(set(starts))
    centres = np.asarray(starts, dtype=np.float64) + window_samples / 2
    frame_centres = np.arange(num_frames) * SAMPLES_PER_FRAME + SAMPLES_PER_FRAME / 2
    # nearest centre; centres are sorted, so each window owns a contiguous run of frames
    owner = np.abs(frame_centres[:, None] - centres[None, :]).argmin(axis=1)
    windows = []
    for i, s in enumerate(starts):
        idx = np.flatnonzero(owner == i)
        if idx.size:
            windows.append(ModelWindow(s, window_samples, int(idx[0]), int(idx[-1]) + 1))
    return windows


def conv_geometry(layers: list[tuple[int, int]]) -> tuple[int, int]:
    """Receptive field and hop (samples) of a stack of strided convs given as ``[(kernel, stride), ...]``."""
    rf, hop = 1, 1
    for k, s in layers:
        rf += (k - 1) * hop
        hop *= s
    return rf, hop


def encoder_frame_positions(
    window_start: int, frames: range | np.ndarray, receptive_field: int, hop: int
) -> np.ndarray:
    """Fractional encoder-frame index at the centre of each 25 fps frame; (F,) float64.

    Encoder frame ``j`` of a window starting at sample ``s`` covers ``[s + j*hop, s + j*hop + rf)``;
    a 25 fps frame ``t`` covers ``[640 t, 640 t + 640)``. Matching their centres places the 25 fps
    grid on the encoder's own timeline rather than stretching one onto the other.
    """
    t = np.asarray(frames, dtype=np.float64)
    centre = t * SAMPLES_PER_FRAME + (SAMPLES_PER_FRAME - 1) / 2
    return (centre - window_start - (receptive_field - 1) / 2) / hop


def interpolate_rows(h: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of rows of ``h`` (n, D) at fractional ``positions`` (F,); ends held. -> (F, D)."""
    n = h.shape[0]
    if n == 1:
        return np.repeat(h, positions.size, axis=0)
    p = np.clip(positions, 0.0, n - 1.0)
    j0 = np.minimum(np.floor(p).astype(np.int64), n - 2)
    w = (p - j0)[:, None].astype(h.dtype)
    return (1 - w) * h[j0] + w * h[j0 + 1]
