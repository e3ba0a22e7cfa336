"""Shared fixtures: a tiny random FLAME-format model and the development head from the model folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

torch.set_num_threads(min(2, torch.get_num_threads()))


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


@pytest.fixture
def tiny_arrays() -> dict[str, np.ndarray]:
    return tiny_flame_arrays()


@pytest.fixture
def tiny_flame(tiny_arrays):
    from x3dtalker_core.flame import FlameModel, flame_data_from_arrays

    return FlameModel(flame_data_from_arrays(tiny_arrays, "tiny"))


def shared_models_dir() -> Path | None:
    """The first $X3DTALKER_MODELS root that holds a flame/ folder (roots are separated by os.pathsep)."""
    for root in os.environ.get("X3DTALKER_MODELS", "").split(os.pathsep):
        if root and (Path(root) / "flame").is_dir():
            return Path(root)
    return None


@pytest.fixture(scope="session")
def dev_flame():
    """The development head (FLAME 2023 Open topology) resolved through $X3DTALKER_MODELS."""
    if shared_models_dir() is None:
        pytest.skip("X3DTALKER_MODELS does not point at a folder with flame/ (CI sets it to ../shared/models)")
    from x3dtalker_core.flame import load_flame_model

    return load_flame_model()


@pytest.fixture(scope="session")
def dev_masks():
    if shared_models_dir() is None:
        pytest.skip("X3DTALKER_MODELS not set")
    from x3dtalker_core.flame import load_masks

    return load_masks()
