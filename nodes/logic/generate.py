"""Generator loading and generation with plug-in controls (emotion keyframes, head-pose curves)."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from ...x3dtalker_core.errors import X3DError
from ...x3dtalker_core.params import EXP, POSE, FlameParams, FlameSequence

DTYPES = ("float32", "bfloat16", "float16")
SOLVERS = ("euler", "heun")


def load_generator_file(path: str, dtype: str = "float32", device=None):
    """Load a checkpoint (kept on ``device``; the Generate node moves it to the compute device)."""
    from ...x3dtalker_core.model import load_generator

    if dtype not in DTYPES:
        raise X3DError(f"unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}")
    return load_generator(path, device=device or "cpu", dtype=dtype)


def reference_frames(reference: FlameParams, num_frames: int, emotion=None, fps: float = 25.0) -> np.ndarray | None:
    """(T, 284) per-frame references with the emotion control applied to the expression, or None."""
    if emotion is None:
        return None
    from ...x3dtalker_core.control import apply_emotion

    frames = np.repeat(reference.to_vector()[None], num_frames, axis=0)
    frames[:, EXP] = apply_emotion(reference.exp, emotion, num_frames, fps)
    return frames


def generate_motion(
    generator,
    reference: FlameParams,
    features,
    steps: int = 32,
    seed: int = 0,
    solver: str = "euler",
    smooth_window: int = 7,
    smooth_order: int = 2,
    emotion=None,
    head_pose=None,
    device=None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], object] | None = None,
) -> FlameSequence:
    """Reference + audio features (+ emotion, + head-pose trajectory) -> FLAME sequence at 25 fps.

    The head-pose trajectory is combined with the *predicted* head rotation after sampling (paper
    §3.3: superimposed, never replacing it; ``center`` mode as the trajectory says). A window of
    0 or 1 switches smoothing off. ``device`` moves the generator there for the run and back after.
    """
    from ...x3dtalker_core.model import generate_sequence

    if smooth_window > 1 and smooth_order >= smooth_window:
        raise X3DError(f"smoothing order ({smooth_order}) must be smaller than the window ({smooth_window})")
    if smooth_window > 1 and smooth_window % 2 == 0:
        raise X3DError(f"smoothing window must be odd, got {smooth_window}")
    smoothing = (int(smooth_window), int(smooth_order)) if smooth_window > 1 else None
    home = generator.device
    if device is not None:
        generator.to(device)
    try:
        seq = generate_sequence(
            generator, reference, features, steps=int(steps), seed=int(seed), solver=solver, smoothing=smoothing,
            reference_per_frame=reference_frames(reference, features.num_frames, emotion, features.fps),
            progress=progress, cancel=cancel,
        )
    finally:
        if device is not None:
            generator.to(home)
    meta = dict(seq.metadata)
    if emotion is not None:
        meta["emotion_control"] = emotion.to_dict()
    if head_pose is not None:
        params = seq.params.copy()
        params[:, POSE] = head_pose.apply_to_pose(params[:, POSE], reference.head_pose)
        meta["head_pose"] = head_pose.metadata
        seq = replace(seq, params=params)
    return replace(seq, metadata=meta)
