"""Mesh helpers for rendering: vertex normals, input checks, and FLAME sequence -> vertices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import X3DError

if TYPE_CHECKING:
    from ..params import FlameSequence


def check_mesh_sequence(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise ``vertices`` (T, V, 3) or (V, 3) and ``faces`` (F, 3).

    Returns float32 (T, V, 3) vertices and int64 (F, 3) faces; :class:`LazyFrames` (e.g.
    :class:`SequenceMeshes`) pass through as they are (their frames are computed when indexed).
    """
    if isinstance(vertices, LazyFrames):  # computed frame by frame (from finite parameters)
        return vertices, _check_faces(faces, vertices.shape[1])
    v = np.asarray(vertices, dtype=np.float32)
    if v.ndim == 2:
        v = v[None]
    if v.ndim != 3 or v.shape[2] != 3 or v.shape[0] == 0 or v.shape[1] < 3:
        raise X3DError(f"vertices must have shape (T, V, 3), got {np.shape(vertices)}")
    if not np.all(np.isfinite(v)):
        raise X3DError("vertices contain NaN or infinite values")
    return v, _check_faces(faces, v.shape[1])


def _check_faces(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0 or not np.issubdtype(f.dtype, np.integer):
        raise X3DError(f"faces must be integer indices of shape (F, 3), got {f.shape} {f.dtype}")
    if f.min() < 0 or f.max() >= num_vertices:
        raise X3DError(f"faces index vertices outside 0..{num_vertices - 1}")
    return f.astype(np.int64)


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


class LazyFrames:
    """A (T, ...) float32 array whose frames are computed when indexed (never all in memory): what the
    renderer, the camera presets and the Wan resampling accept in place of an array.

    Subclasses set ``shape`` and implement ``__getitem__`` for an int, a slice or an index array;
    ``np.asarray`` computes every frame.
    """

    ndim = 3
    dtype = np.dtype(np.float32)
    shape: tuple[int, ...]

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        out = self[np.arange(self.shape[0])] if self.shape[0] else np.empty(self.shape, np.float32)
        return out if dtype is None else out.astype(dtype, copy=False)


class SequenceMeshes(LazyFrames):
    """The meshes of a FLAME sequence, decoded on demand: a (T, V [+ P], 3) float32 array that is never
    all in memory.

    Indexing a frame (or a few neighbouring ones) decodes and keeps the chunk of ``batch_size`` frames around
    it, so a front-to-back pass (the renderer's, also through the Wan resampling) decodes each frame once; a
    longer slice or an index array decodes just those frames.
    ``np.asarray`` decodes everything (for the few consumers that need the whole clip, e.g. the Wan
    resampling). The first V vertices are the FLAME mesh; the P mouth-interior vertices follow.
    """

    def __init__(self, sequence: FlameSequence, model=None, batch_size: int = 64, mouth_interior: bool = True):
        from ..flame import load_flame_model
        from .mouth import mouth_proxy_for_sequence

        params = np.asarray(sequence.params, np.float32)
        if not np.all(np.isfinite(params)):
            raise X3DError("the sequence's parameters contain NaN or infinite values")
        self.model = load_flame_model(landmarks=False) if model is None else model
        self.params = params
        self.batch_size = max(1, int(batch_size))
        self.proxy = mouth_proxy_for_sequence(self.model, params) if mouth_interior else None
        faces = self.model.faces.detach().cpu().numpy().astype(np.int64)
        self.faces = faces if self.proxy is None else np.concatenate([faces, self.proxy.faces])
        self.shape = (params.shape[0], self.model.num_vertices + (self.proxy.num_vertices if self.proxy else 0), 3)
        self._chunk: tuple[int, np.ndarray] | None = None

    def decode(self, params: np.ndarray) -> np.ndarray:
        """(N, 284) parameters -> (N, V [+ P], 3) meshes."""
        from ..flame import vertices_for_sequence
        from .mouth import mouth_vertices_for_sequence

        if self.proxy is None:
            return vertices_for_sequence(self.model, params, batch_size=self.batch_size)
        return mouth_vertices_for_sequence(self.model, self.proxy, params, batch_size=self.batch_size)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            t = int(index) + (self.shape[0] if index < 0 else 0)
            if not 0 <= t < self.shape[0]:
                raise IndexError(f"frame {index} is outside a clip of {self.shape[0]} frames")
            start = t - t % self.batch_size
            if self._chunk is None or self._chunk[0] != start:
                self._chunk = (start, self.decode(self.params[start : start + self.batch_size]))
            return self._chunk[1][t - start]
        if isinstance(index, tuple):  # e.g. [::step, :V]: frames first, then the rest on the decoded ones
            return self[index[0]][(slice(None), *index[1:])]
        if isinstance(index, slice):
            frames = range(*index.indices(self.shape[0]))
            if frames.step == 1 and 0 < len(frames) <= 4:  # neighbours (the Wan resampling): from the chunk
                return np.stack([self[t] for t in frames])
        return self.decode(self.params[index])

    def __array__(self, dtype=None, copy=None):
        out = self.decode_all()
        return out if dtype is None else out.astype(dtype, copy=False)

    def decode_all(self, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Every frame, (T, V [+ P], 3) float32, decoded ``batch_size`` frames at a time."""
        total = self.shape[0]
        out = np.empty(self.shape, np.float32)
        for start in range(0, total, self.batch_size):
            stop = min(start + self.batch_size, total)
            out[start:stop] = self.decode(self.params[start:stop])
            if progress is not None:
                progress(stop, total)
        return out


def flame_vertices(
    sequence: FlameSequence,
    model=None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    mouth_interior: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a :class:`~x3dtalker_core.params.FlameSequence` to meshes with the FLAME model, all at once
    (:class:`SequenceMeshes` decodes on demand instead, for long clips).

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
    meshes = SequenceMeshes(sequence, model, batch_size, mouth_interior)
    return meshes.decode_all(progress), meshes.faces
