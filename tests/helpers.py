"""Plain test helpers (importable as ``helpers``; ``conftest`` names clash between test folders)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def tiny_flame_arrays(num_vertices: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """A small FLAME-format model: vertices below y=0 belong to the jaw, the rest to the skull.

    Skull vertices are skinned to the global and neck joints only and have zero jaw correctives,
    so jaw rotation must leave them exactly in place.
    """
    rng = np.random.default_rng(seed)
    v = rng.uniform(-0.1, 0.1, size=(num_vertices, 3))
    v[: num_vertices // 2, 1] = -np.abs(v[: num_vertices // 2, 1]) - 0.01  # jaw part
    v[num_vertices // 2 :, 1] = np.abs(v[num_vertices // 2 :, 1]) + 0.01  # skull part
    jaw = v[:, 1] < 0
    weights = np.zeros((num_vertices, 5))
    weights[jaw, 2] = 1.0
    weights[~jaw, 0] = 0.5
    weights[~jaw, 1] = 0.5
    posedirs = rng.normal(size=(num_vertices, 3, 36)) * 1e-3
    posedirs[~jaw, :, 9:18] = 0.0  # jaw correctives act on the jaw only
    j_reg = np.zeros((5, num_vertices))
    j_reg[:, :] = 1.0 / num_vertices
    faces = np.stack([np.arange(num_vertices - 2), np.arange(1, num_vertices - 1), np.arange(2, num_vertices)], 1)
    return {
        "v_template": v.astype(np.float32),
        "f": faces.astype(np.uint32),
        "shapedirs": (rng.normal(size=(num_vertices, 3, 400)) * 1e-3).astype(np.float32),
        "posedirs": posedirs.astype(np.float32),
        "J_regressor": j_reg,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "bs_style": np.asarray("lbs"),
        "bs_type": np.asarray("lrotmin"),
    }


def shared_models_dir() -> Path | None:
    """The first $X3DTALKER_MODELS root that holds a flame/ folder (roots are separated by os.pathsep)."""
    for root in os.environ.get("X3DTALKER_MODELS", "").split(os.pathsep):
        if root and (Path(root) / "flame").is_dir():
            return Path(root)
    return None


def talking_sequence(frames: int = 50, seed: int = 0, expression_space: str | None = "arkit", fps: float = 25.0):
    """A FlameSequence that talks: an identity, smooth ARKit-range expression weights, a nodding, turning
    head and an opening/closing jaw (``metadata["expression_space"]`` set when given)."""
    from x3dtalker_core.params import FlameSequence

    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fps
    shape = np.repeat(rng.normal(size=(1, 100)) * 0.8, frames, axis=0)
    exp = np.zeros((frames, 50))
    exp[:, :47] = np.clip(0.3 + 0.3 * np.sin(t * rng.uniform(1, 5, 47) + rng.uniform(0, 6, 47)), 0, 1)
    pose = np.zeros((frames, 6))
    pose[:, 0] = 0.1 * np.sin(t[:, 0])
    pose[:, 1] = 0.25 * np.sin(0.7 * t[:, 0])
    pose[:, 2] = 0.05 * np.sin(1.3 * t[:, 0])
    pose[:, 3] = 0.15 + 0.12 * np.sin(6 * t[:, 0])
    metadata = {} if expression_space is None else {"expression_space": expression_space}
    return FlameSequence.from_groups(shape, exp, pose, fps=fps, metadata=metadata)


def tiny_generator(model_module, features, window: int = 32, seed: int = 0):
    """A randomly initialised generator small enough for unit tests, sized for ``features``' encoders.

    ``model_module`` is the ``x3dtalker_core.model`` of the namespace the test uses (the plain package, the
    pack's, or ComfyUI's copy), so the objects match the classes that namespace checks against.
    """
    import torch

    cfg = model_module.GeneratorConfig(
        model=model_module.ModelConfig(hidden=32, heads=2, backbone_blocks=1, identity_blocks=1, pose_blocks=1,
                                       expression_blocks=1, ff_mult=2, timestep_dim=16,
                                       linguistic_dim=features.linguistic_dim, emotion_dim=features.emotion_dim),
        window=window)
    torch.manual_seed(seed)
    return model_module.build_generator(cfg)


def gl_available() -> bool:
    """Whether an offscreen OpenGL context can be made here (EGL + Mesa, or a GPU)."""
    try:
        from x3dtalker_core.render.backend import create_backend

        create_backend("auto", 8, 8, np.array([[0, 1, 2]]), 3).close()
        return True
    except Exception:
        return False
