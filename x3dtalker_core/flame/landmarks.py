"""Landmark embeddings: fixed points on the FLAME surface given as (face, barycentric weights)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidFileError
from .safe_pickle import load_npy_object


@dataclass(frozen=True)
class LandmarkEmbedding:
    """L surface points: ``point_i = Σ_k bary[i, k] · vertex[faces[face_idx[i], k]]``.

    Attributes:
        face_idx: (L,) int64 triangle index per landmark.
        bary: (L, 3) barycentric weights.
        name: ``deca68`` or ``mediapipe``.
        landmark_indices: (L,) index of each point in the detector's own numbering (MediaPipe face
            mesh for ``mediapipe``), or ``arange(L)``.
    """

    face_idx: np.ndarray
    bary: np.ndarray
    name: str
    landmark_indices: np.ndarray

    def __len__(self) -> int:
        return self.face_idx.shape[0]

    def validate(self, num_faces: int, source: str) -> None:
        if self.face_idx.min(initial=0) < 0 or self.face_idx.max(initial=0) >= num_faces:
            raise InvalidFileError(f"{source}: landmark face indices must lie in [0, {num_faces}) for this model")


@dataclass(frozen=True)
class Deca68Embedding:
    """DECA's 68-point embedding: the full static set plus the dynamic jaw contour (for fitters).

    Attributes:
        full: the 68 points (static contour).
        static: the 51 inner points (brows, eyes, nose, mouth).
        dynamic_face_idx: (79, 17) contour faces per yaw bin (-39..39 degrees).
        dynamic_bary: (79, 17, 3) their barycentric weights.
    """

    full: LandmarkEmbedding
    static: LandmarkEmbedding
    dynamic_face_idx: np.ndarray
    dynamic_bary: np.ndarray


def _embedding(face_idx, bary, name: str, source: str, indices=None) -> LandmarkEmbedding:
    face_idx = np.asarray(face_idx).reshape(-1).astype(np.int64)
    bary = np.asarray(bary, dtype=np.float64).reshape(-1, 3)
    if bary.shape[0] != face_idx.shape[0]:
        raise InvalidFileError(f"{source}: {face_idx.shape[0]} landmark faces but {bary.shape[0]} barycentric rows")
    indices = np.arange(face_idx.shape[0]) if indices is None else np.asarray(indices).reshape(-1).astype(np.int64)
    if indices.shape != face_idx.shape:
        raise InvalidFileError(f"{source}: landmark_indices has {indices.shape[0]} entries, expected {face_idx.shape[0]}")
    return LandmarkEmbedding(face_idx, bary, name, indices)


def load_deca68_embedding(path: str | Path) -> Deca68Embedding:
    """Read DECA's ``landmark_embedding.npy`` (pickled, read safely) or its plain ``.npz`` twin."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    else:
        d = load_npy_object(path)
    if not isinstance(d, dict):
        raise InvalidFileError(f"{path}: expected a dict of landmark arrays, got {type(d).__name__}")
    try:
        full = _embedding(d["full_lmk_faces_idx"], d["full_lmk_bary_coords"], "deca68", str(path))
        static = _embedding(d["static_lmk_faces_idx"], d["static_lmk_bary_coords"], "deca68_static", str(path))
        dyn_idx = np.asarray(d["dynamic_lmk_faces_idx"]).astype(np.int64)
        dyn_bary = np.asarray(d["dynamic_lmk_bary_coords"], dtype=np.float64)
    except KeyError as exc:
        raise InvalidFileError(f"{path}: missing landmark array {exc}") from None
    if len(full) != 68 or len(static) != 51:
        raise InvalidFileError(f"{path}: expected 68 full and 51 static landmarks, got {len(full)} and {len(static)}")
    if dyn_idx.ndim != 2 or dyn_bary.shape != dyn_idx.shape + (3,):
        raise InvalidFileError(f"{path}: dynamic contour arrays have shapes {dyn_idx.shape} and {dyn_bary.shape}")
    return Deca68Embedding(full, static, dyn_idx, dyn_bary)


def load_mediapipe_embedding(path: str | Path) -> LandmarkEmbedding:
    """Read ``mediapipe_landmark_embedding.npz`` (105 points with MediaPipe face-mesh indices)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            return _embedding(z["lmk_face_idx"], z["lmk_b_coords"], "mediapipe", str(path), z["landmark_indices"])
    except KeyError as exc:
        raise InvalidFileError(f"{path}: missing array {exc}") from None
    except (OSError, ValueError) as exc:
        raise InvalidFileError(f"{path} is not a readable .npz ({exc})") from None


def surface_points(vertices: torch.Tensor, faces: torch.Tensor, face_idx: torch.Tensor, bary: torch.Tensor) -> torch.Tensor:
    """Barycentric surface points.

    Args:
        vertices: (B, V, 3).
        faces: (F, 3) long.
        face_idx: (L,) long, or (B, L) for per-sample faces (dynamic contours).
        bary: (L, 3) or (B, L, 3).

    Returns:
        (B, L, 3).
    """
    tri = faces[face_idx]  # (L, 3) or (B, L, 3)
    if tri.dim() == 2:
        corners = vertices[:, tri]  # (B, L, 3, 3)
    else:
        batch = torch.arange(vertices.shape[0], device=vertices.device)[:, None, None]
        corners = vertices[batch, tri]
    return (corners * bary.to(vertices.dtype).unsqueeze(-1)).sum(-2)
