"""FLAME model arrays: reading ``.pkl`` / ``.npz`` model files into a validated :class:`FlameData`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import InvalidFileError
from .safe_pickle import load_pickle

N_SHAPE_DIRS = 300
"""FLAME stores 300 identity directions first, then the expression directions."""

REQUIRED_KEYS = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")


@dataclass(frozen=True)
class FlameData:
    """The arrays of a FLAME-format model, validated.

    Attributes:
        v_template: (V, 3) float, template vertices in metres.
        faces: (F, 3) int64 triangle indices.
        shapedirs: (V, 3, K) float; columns [0, 300) identity, [300, K) expression.
        posedirs: (V, 3, 9 * (J - 1)) float pose correctives (official layout).
        J_regressor: (J, V) float, dense.
        weights: (V, J) float skinning weights.
        parents: (J,) int64, parents[0] = -1, topologically ordered.
        source: file the data came from.
        is_dev_model: True for the development stand-in head (``flame_dev.npz``).
        sha256: digest of the source file (cache keys).
        expression_names: names of the expression directions where the file names them (the
            development head's ``x3d_dev_expression_names``: ARKit shapes); empty for FLAME's PCA.
    """

    v_template: np.ndarray
    faces: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    source: str = ""
    is_dev_model: bool = False
    sha256: str = ""
    expression_names: tuple[str, ...] = ()

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def num_joints(self) -> int:
        return self.J_regressor.shape[0]

    @property
    def num_shape(self) -> int:
        return min(N_SHAPE_DIRS, self.shapedirs.shape[2])

    @property
    def num_expression(self) -> int:
        return max(0, self.shapedirs.shape[2] - N_SHAPE_DIRS)


def _check(cond: bool, source: str, message: str) -> None:
    if not cond:
        raise InvalidFileError(f"{source}: {message}")


def flame_data_from_arrays(arrays: Mapping[str, Any], source: str = "<arrays>", sha256: str = "") -> FlameData:
    """Validate raw FLAME arrays (official key names) and build :class:`FlameData`.

    Every shape is checked against the others and a wrong one is named in the error.
    """
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    _check(not missing, source, f"missing FLAME arrays {missing} (found keys: {sorted(arrays)})")

    def arr(key: str) -> np.ndarray:
        try:
            return np.asarray(arrays[key])
        except Exception as exc:  # noqa: BLE001 - any conversion failure is a malformed file
            raise InvalidFileError(f"{source}: array '{key}' cannot be read as numbers ({exc})") from None

    v_template = arr("v_template").astype(np.float64)
    _check(v_template.ndim == 2 and v_template.shape[1] == 3 and v_template.shape[0] > 0, source,
           f"v_template must be (V, 3), got {v_template.shape}")
    n_verts = v_template.shape[0]

    faces = arr("f")
    _check(faces.ndim == 2 and faces.shape[1] == 3, source, f"f (faces) must be (F, 3), got {faces.shape}")
    faces = faces.astype(np.int64)
    _check(faces.size > 0 and faces.min() >= 0 and faces.max() < n_verts, source,
           f"f (faces) indices must lie in [0, {n_verts})")

    shapedirs = arr("shapedirs").astype(np.float64)
    _check(shapedirs.ndim == 3 and shapedirs.shape[:2] == (n_verts, 3) and shapedirs.shape[2] > 0, source,
           f"shapedirs must be ({n_verts}, 3, K), got {shapedirs.shape}")

    j_reg = arr("J_regressor").astype(np.float64)
    _check(j_reg.ndim == 2 and j_reg.shape[1] == n_verts, source,
           f"J_regressor must be (J, {n_verts}), got {j_reg.shape}")
    n_joints = j_reg.shape[0]

    weights = arr("weights").astype(np.float64)
    _check(weights.shape == (n_verts, n_joints), source,
           f"weights must be ({n_verts}, {n_joints}), got {weights.shape}")

    posedirs = arr("posedirs").astype(np.float64)
    n_pose = 9 * (n_joints - 1)
    if posedirs.ndim == 2 and posedirs.shape == (n_verts * 3, n_pose):
        posedirs = posedirs.reshape(n_verts, 3, n_pose)
    _check(posedirs.shape == (n_verts, 3, n_pose), source,
           f"posedirs must be ({n_verts}, 3, {n_pose}), got {posedirs.shape}")

    kintree = arr("kintree_table")
    _check(kintree.shape == (2, n_joints), source, f"kintree_table must be (2, {n_joints}), got {kintree.shape}")
    parents = kintree[0].astype(np.int64)
    parents[0] = -1  # the official file stores uint32-max for "no parent"
    _check(all(0 <= parents[j] < j for j in range(1, n_joints)), source,
           f"kintree_table parents must precede their children, got {parents.tolist()}")

    for name, a in (("v_template", v_template), ("shapedirs", shapedirs), ("posedirs", posedirs),
                    ("J_regressor", j_reg), ("weights", weights)):
        _check(bool(np.all(np.isfinite(a))), source, f"{name} contains NaN or infinite values")

    is_dev = bool(np.asarray(arrays.get("x3d_dev_model", 0)).item()) if "x3d_dev_model" in arrays else False
    names = tuple(str(n) for n in np.asarray(arrays.get("x3d_dev_expression_names", ())).reshape(-1))
    return FlameData(v_template, faces, shapedirs, posedirs, j_reg, weights, parents, source, is_dev, sha256, names)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_flame_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Raw arrays of a FLAME ``.pkl`` (restricted unpickling) or ``.npz`` (no pickle)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(f"FLAME model file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise InvalidFileError(f"{path} is not a readable .npz ({exc})") from None
    if suffix == ".pkl":
        data = load_pickle(path)
        if not isinstance(data, dict):
            raise InvalidFileError(f"{path}: expected a dict of FLAME arrays, got {type(data).__name__}")
        return data
    raise InvalidFileError(f"{path}: unsupported FLAME model format '{suffix}' (use the official .pkl or an .npz)")


def load_flame_data(path: str | Path) -> FlameData:
    """Read and validate a FLAME model file (``generic_model.pkl``, ``flame2023.pkl`` or ``.npz``)."""
    path = Path(path)
    return flame_data_from_arrays(read_flame_arrays(path), str(path), _file_sha256(path))
