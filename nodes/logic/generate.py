"""Generator loading and generation with plug-in controls (emotion keyframes, head-pose curves)."""

from __future__ import annotations

from typing import Callable

from ...x3dtalker_core.errors import X3DError
from ...x3dtalker_core.model.generate import SOLVERS  # noqa: F401 (the Generate node's solver menu)
from ...x3dtalker_core.params import FlameParams, FlameSequence

DTYPES = ("float32", "bfloat16", "float16")


AUTO = "auto"


def checkpoint_names() -> list[str]:
    """Names of every installed generator checkpoint, the default first (the core resolver's order)."""
    from ...x3dtalker_core.model import available_checkpoints

    return available_checkpoints()


def checkpoint_path(choice: str) -> str:
    """The file behind a dropdown choice: ``auto`` = the core resolver's default, else a file name.

    ComfyUI's folder registry is asked first (``extra_model_paths.yaml`` folders, sub-folders), then the
    core resolver, so a name that works in the CLI works here too.
    """
    from ...x3dtalker_core.model.checkpoint import resolve_checkpoint

    if not choice or choice == AUTO:
        return str(resolve_checkpoint(None))
    try:
        import folder_paths

        path = folder_paths.get_full_path("3dxtalker", choice)
    except (ImportError, KeyError):
        path = None
    return path or str(resolve_checkpoint(choice))


def describe_generator(generator, path: str, chosen: str = AUTO) -> str:
    """One status line: which checkpoint (and why), its encoders and window."""
    from ...x3dtalker_core.assets import is_bootstrap_checkpoint

    m = generator.config.model
    kind = "bootstrap bundled with the pack" if is_bootstrap_checkpoint(path) else "trained"
    how = "auto -> " if not chosen or chosen == AUTO else ""
    text = (f"{how}{generator.name} ({kind}); {m.linguistic_encoder}+{m.emotion_encoder} features, "
            f"window {generator.config.window}")
    return text + (f"\nnote: {generator.note}" if getattr(generator, "note", None) else "")


def load_generator_file(path: str, dtype: str = "float32", device=None):
    """Load a checkpoint (kept on ``device``; the Generate node moves it to the compute device)."""
    from ...x3dtalker_core.model import load_generator

    if dtype not in DTYPES:
        raise X3DError(f"unknown dtype '{dtype}'; choose one of {', '.join(DTYPES)}")
    return load_generator(path, device=device or "cpu", dtype=dtype)


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
    flame_model=None,
) -> FlameSequence:
    """Reference + audio features (+ emotion, + head-pose trajectory) -> FLAME sequence at 25 fps.

    The core's :func:`~x3dtalker_core.pipeline.generate_motion`, as the CLI runs it: the smoothing pair
    goes through the core's :func:`~x3dtalker_core.pipeline.smoothing_option` (0 or 1 = off, an even window
    is made odd), and with ``flame_model`` the motion is put into that model's expression space.
    ``device`` moves the generator there for the run and back after.
    """
    from ...x3dtalker_core.pipeline import generate_motion as run, smoothing_option

    smoothing = smoothing_option(smooth_window, smooth_order)
    home = generator.device
    if device is not None:
        generator.to(device)
    try:
        return run(generator, reference, features, steps=int(steps), seed=int(seed), solver=solver,
                   smoothing=smoothing, emotion=emotion, head_pose=head_pose, progress=progress, cancel=cancel,
                   flame_model=flame_model)
    finally:
        if device is not None:
            generator.to(home)
