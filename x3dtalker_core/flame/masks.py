"""FLAME vertex region masks (``FLAME_masks.pkl``): lips, forehead, eye_region, nose, face, ..."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..assets import find_asset
from ..errors import InvalidFileError
from .safe_pickle import load_pickle

UPPER_FACE_REGIONS = ("forehead", "eye_region", "nose")
"""Regions whose union is the 'upper face' of UFVE/UFDD (SPEC §7)."""


def load_masks(path: str | Path | None = None, num_vertices: int | None = 5023) -> dict[str, np.ndarray]:
    """Region name -> sorted unique int64 vertex indices.

    Args:
        path: ``FLAME_masks.pkl`` (read with the restricted unpickler) or an ``.npz`` with the same
            keys; None resolves the ``flame_masks`` asset.
        num_vertices: if given, every index must be below it.
    """
    path = Path(path) if path is not None else find_asset("flame_masks")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    else:
        raw = load_pickle(path)
    if not isinstance(raw, dict) or not raw:
        raise InvalidFileError(f"{path}: expected a non-empty dict of vertex index arrays")
    masks: dict[str, np.ndarray] = {}
    for name, idx in raw.items():
        arr = np.asarray(idx)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidFileError(f"{path}: mask '{name}' must be a 1-D integer array, got {arr.dtype} {arr.shape}")
        arr = np.unique(arr.astype(np.int64))
        if arr.size and (arr[0] < 0 or (num_vertices is not None and arr[-1] >= num_vertices)):
            raise InvalidFileError(f"{path}: mask '{name}' has indices outside [0, {num_vertices})")
        masks[str(name)] = arr
    return masks


def region(masks: dict[str, np.ndarray], *names: str) -> np.ndarray:
    """Union of named regions (sorted unique indices); names missing from the file are an error."""
    missing = [n for n in names if n not in masks]
    if missing:
        raise InvalidFileError(f"FLAME masks file has no region(s) {missing}; available: {sorted(masks)}")
    return np.unique(np.concatenate([masks[n] for n in names]))
