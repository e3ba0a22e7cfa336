"""Mesh helpers for rendering: vertex normals, input checks, and FLAME sequence -> vertices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import X3DError

if TYPE_CHECKING:
    from ..params import FlameSequence


def check_mesh_sequence(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise ``vertices`` (T, V, 3) or (V, 3) and ``faces`` (F, 3).

    Returns float32 (T, V, 3) vertices and int64 (F, 3) faces.
    """
    v = np.asarray(vertices, dtype=np.float32)
    if v.ndim == 2:
        v = v[None]
    if v.ndim != 3 or v.shape[2] != 3 or v.shape[0] == 0 or v.shape[1] < 3:
        raise X3DError(f"vertices must have shape (T, V, 3), got {np.shape(vertices)}")
    if not np.all(np.isfinite(v)):
        raise X3DError("vertices contain NaN or infinite values")
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0 or not np.issubdtype(f.dtype, np.integer):
        raise X3DError(f"faces must be integer indices of shape (F, 3), got {f.shape} {f.dtype}")
    if f.min() < 0 or f.max() >= v.shape[1]:
        raise X3DError(f"faces index vertices outside 0..{v.shape[1] - 1}")
    return v, f.astype(np.int64)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) float32 unit area-weighted vertex normals of one mesh ``vertices`` (V, 3), ``faces`` (F, 3).

    Unreferenced or degenerate vertices get (0, 0, 1) so shaders never normalise a zero vector.
    """
    v = vertices.astype(np.float64, copy=False)
    tri = v[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area: area weighting
    idx = faces.reshape(-1)
    n = np.stack(
        [np.bincount(idx, weights=np.repeat(face_n[:, k], 3), minlength=v.shape[0]) for k in range(3)], axis=1
    )
    length = np.linalg.norm(n, axis=1, keepdims=True)
    out = np.where(length > 1e-20, n / np.maximum(length, 1e-20), np.array([0.0, 0.0, 1.0]))
    return out.astype(np.float32)


def flame_vertices(
    sequence: FlameSequence,
    model=None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    mouth_interior: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a :class:`~x3dtalker_core.params.FlameSequence` to meshes with the FLAME model.

    Args:
        sequence: T frames of parameters.
        model: a loaded ``FlameModel``; None loads the registered FLAME asset.
        batch_size: frames per forward pass.
        progress: optional ``progress(done, total)`` callback.
        mouth_interior: add teeth, tongue and a mouth cavity behind the lips (:mod:`.mouth`), so an open
            mouth does not show the inside of the head as a far hole in the depth video.

    Returns:
        vertices (T, V [+ P], 3) float32 metres and faces (F, 3) int64. The first V vertices are always
        the FLAME mesh; the P mouth vertices follow.
    """
    from ..flame import load_flame_model, vertices_for_sequence
    from .mouth import mouth_proxy_for_sequence, mouth_vertices_for_sequence

    if model is None:
        model = load_flame_model(landmarks=False)
    proxy = mouth_proxy_for_sequence(model, sequence.params) if mouth_interior else None
    total = sequence.num_frames
    out = np.empty((total, model.num_vertices + (proxy.num_vertices if proxy else 0), 3), np.float32)
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        chunk = sequence.params[start:stop]
        out[start:stop] = (vertices_for_sequence(model, chunk, batch_size=batch_size) if proxy is None
                           else mouth_vertices_for_sequence(model, proxy, chunk, batch_size=batch_size))
        if progress is not None:
            progress(stop, total)
    faces = model.faces.detach().cpu().numpy().astype(np.int64)
    if proxy is not None:
        faces = np.concatenate([faces, proxy.faces])
    return out, faces
