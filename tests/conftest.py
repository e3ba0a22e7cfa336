"""Shared fixtures: a tiny random FLAME-format model and the development head from the model folder."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from helpers import shared_models_dir, tiny_flame_arrays  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def tiny_arrays() -> dict[str, np.ndarray]:
    return tiny_flame_arrays()


@pytest.fixture
def tiny_flame(tiny_arrays):
    from x3dtalker_core.flame import FlameModel, flame_data_from_arrays

    return FlameModel(flame_data_from_arrays(tiny_arrays, "tiny"))


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
