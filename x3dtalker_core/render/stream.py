"""A mesh sequence streamed frame by frame as 8-bit video layers: preview, depth, normals, mask.

This is the path the mp4 files take: each frame is rasterised once on the GPU side straight to
uint8 (preview RGB and normalised depth come back from one RGBA8 target, see
:meth:`~.moderngl_backend.ModernGLBackend.draw_video`), so no float image ever exists in memory and
nothing is held beyond the current frame. :func:`.sequence.render_sequence` is the float path for
IMAGE batches and metric depth; both give the same 8-bit values.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from ..errors import X3DError
from .backend import create_backend
from .camera import Camera
from .images import DEFAULT_DEPTH_FLOOR, DepthRange
from .mesh import check_mesh_sequence, vertex_normals
from .sequence import RenderCancelled, clip_planes

VIDEO_LAYERS = ("preview", "depth", "normals", "mask")
"""Layers :func:`stream_video_frames` can produce."""


def stream_video_frames(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: Camera,
    width: int,
    height: int,
    depth_range: DepthRange,
    layers: Sequence[str] = ("preview", "depth"),
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
    depth_floor: float = DEFAULT_DEPTH_FLOOR,
    backend: str = "auto",
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield, for each frame, the asked ``layers`` as fresh uint8 arrays (safe to queue).

    Args:
        vertices: (T, V, 3) world positions in metres.
        faces: (F, 3) triangle vertex indices.
        camera: one camera for all frames or one per frame.
        depth_range: the clip's near/far (:func:`.sequence.measure_depth_range`): one range for every frame.
        layers: subset of :data:`VIDEO_LAYERS`; only these are rasterised and read back.
        background: preview background colour, RGB in [0, 1].
        should_stop: polled before each frame; returning True raises :class:`.sequence.RenderCancelled`.

    Yields:
        ``{"preview": (H, W, 3), "depth": (H, W), "normals": (H, W, 3), "mask": (H, W)}`` restricted to
        ``layers``; depth is near = 255 .. far = ``depth_floor`` * 255, background 0; mask is 255 on the mesh.
    """
    verts, faces = check_mesh_sequence(vertices, faces)
    unknown = set(layers) - set(VIDEO_LAYERS)
    if unknown or not layers:
        raise X3DError(f"video layers must be a non-empty subset of {', '.join(VIDEO_LAYERS)}, got {list(layers)}")
    t_total = verts.shape[0]
    camera.check_frames(t_total)
    lit = "preview" in layers or "normals" in layers  # the shaded program also gives the normals
    near_far = (depth_range.near, depth_range.far)
    aspect = width / height
    gl = create_backend(backend, width, height, faces, verts.shape[1])
    try:
        for t in range(t_total):
            if should_stop is not None and should_stop():
                raise RenderCancelled(f"rendering cancelled after {t} of {t_total} frames")
            near, far = clip_planes(verts[t], camera, t)
            drawn = gl.draw_video(
                verts[t],
                vertex_normals(verts[t], faces) if lit else None,
                camera.view[camera.frame_index(t)],
                camera.projection(t, aspect, near, far),
                near_far,
                depth_floor,
                background,
                want_normals="normals" in layers,
            )
            frame: dict[str, np.ndarray] = {}
            if "preview" in layers:
                frame["preview"] = np.ascontiguousarray(drawn.shaded)
            if "depth" in layers:
                frame["depth"] = np.ascontiguousarray(drawn.depth)
            if "normals" in layers:
                frame["normals"] = np.ascontiguousarray(drawn.normals)
            if "mask" in layers:
                frame["mask"] = np.where(drawn.depth > 0, np.uint8(255), np.uint8(0))
            yield frame
    finally:
        gl.close()
