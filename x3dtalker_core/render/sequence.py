"""Render a mesh sequence to ComfyUI-style image batches: depth, normals, shaded preview, mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import Cancelled, X3DError
from .backend import create_backend
from .camera import Camera
from .images import DEFAULT_DEPTH_FLOOR, DepthRange, composite, depth_to_image, normals_to_image
from .mesh import check_mesh_sequence, vertex_normals

OUTPUTS = ("depth", "normals", "shaded")
"""Image outputs :func:`render_sequence` can produce (the mask and metric depth always come)."""


class RenderCancelled(Cancelled):
    """Rendering was stopped by the caller's ``should_stop`` callback."""


@dataclass(frozen=True)
class RenderedFrames:
    """A rendered clip; image batches are float32 in [0, 1] (ComfyUI IMAGE / MASK layout).

    Attributes:
        mask: (T, H, W) 1 where the mesh covers the pixel.
        view_depth: (T, H, W) metric depth along the camera axis (metres), 0 on the background.
        depth_range: the single near/far used to normalise ``depth`` for the whole clip.
        depth: (T, H, W, 3) near = bright, far = ``depth_floor``, background 0; or None.
        normals: (T, H, W, 3) camera-space normals as ``0.5 n + 0.5``; or None.
        shaded: (T, H, W, 3) lit clay preview over the background colour; or None.
        attribute: (T, H, W) the interpolated per-vertex attribute, when one was given.
    """

    mask: np.ndarray
    view_depth: np.ndarray
    depth_range: DepthRange
    depth: np.ndarray | None = None
    normals: np.ndarray | None = None
    shaded: np.ndarray | None = None
    attribute: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return self.mask.shape[0]


def clip_planes(vertices: np.ndarray, camera: Camera, t: int) -> tuple[float, float]:
    """Near/far clipping planes that contain every vertex of frame ``t`` (they only bound the z-buffer;
    output depth is the linear view depth, so their values do not change any pixel)."""
    z = camera.view_depth(vertices.astype(np.float64), t)
    lo, hi = float(z.min()), float(z.max())
    margin = 0.05 * max(hi - lo, 1e-3) + 1e-3
    if camera.kind == "perspective":
        if hi <= 0:
            raise X3DError(f"frame {t}: the mesh is behind the camera; check the camera")
        return max(lo - margin, 1e-3, hi * 1e-4), hi + margin
    if lo <= 0:
        raise X3DError(f"frame {t}: the mesh reaches behind the orthographic camera; move the camera back")
    return lo - margin, hi + margin


def render_sequence(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: Camera,
    width: int = 512,
    height: int = 512,
    outputs: Sequence[str] = OUTPUTS,
    depth_range: DepthRange | None = None,
    depth_floor: float = DEFAULT_DEPTH_FLOOR,
    background: tuple[float, float, float] = (0.0, 0.0, 0.0),
    vertex_attribute: np.ndarray | None = None,
    backend: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RenderedFrames:
    """Rasterise every frame of a mesh sequence.

    Args:
        vertices: (T, V, 3) world positions in metres (any mesh; FLAME: see :func:`.mesh.flame_vertices`).
        faces: (F, 3) triangle vertex indices.
        camera: one camera for all frames or one per frame (:mod:`.camera`).
        width, height: output size in pixels.
        outputs: subset of :data:`OUTPUTS` to build (each costs T*H*W*3 floats of memory).
        depth_range: fixed near/far for the depth images; None = the clip's own range.
        depth_floor: depth image value of the farthest surface.
        background: shaded-preview background colour (depth and normals keep a black background).
        vertex_attribute: (V,) values (a region mask, say) to rasterise into ``attribute``.
        backend: rasteriser name (see :mod:`.backend`).
        progress: ``progress(done, total)`` after each frame.
        should_stop: polled before each frame; returning True raises :class:`RenderCancelled`.
    """
    verts, faces = check_mesh_sequence(vertices, faces)
    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise X3DError(f"unknown render outputs {sorted(unknown)}: choose from {', '.join(OUTPUTS)}")
    t_total, num_vertices = verts.shape[:2]
    camera.check_frames(t_total)
    if vertex_attribute is not None:
        vertex_attribute = np.asarray(vertex_attribute, np.float32).reshape(-1)
        if vertex_attribute.shape[0] != num_vertices:
            raise X3DError(f"vertex attribute has {vertex_attribute.shape[0]} values for {num_vertices} vertices")

    view_depth = np.zeros((t_total, height, width), np.float32)
    normals_rgb = np.zeros((t_total, height, width, 3), np.float32) if "normals" in outputs else None
    shaded = np.zeros((t_total, height, width, 3), np.float32) if "shaded" in outputs else None
    attribute = np.zeros((t_total, height, width), np.float32) if vertex_attribute is not None else None
    aspect = width / height
    need_normals = normals_rgb is not None or shaded is not None
    gl = create_backend(backend, width, height, faces, num_vertices)
    try:
        for t in range(t_total):
            if should_stop is not None and should_stop():
                raise RenderCancelled(f"rendering cancelled after {t} of {t_total} frames")
            near, far = clip_planes(verts[t], camera, t)
            gbuf = gl.draw(
                verts[t],
                vertex_normals(verts[t], faces) if need_normals else None,
                camera.view[camera.frame_index(t)],
                camera.projection(t, aspect, near, far),
                vertex_attribute,
                shaded=shaded is not None,
            )
            view_depth[t] = gbuf.view_depth
            mask_t = gbuf.mask
            if normals_rgb is not None:
                normals_rgb[t] = normals_to_image(gbuf.normal, mask_t)
            if shaded is not None:
                shaded[t] = composite(gbuf.shaded, mask_t, background)
            if attribute is not None:
                attribute[t] = gbuf.attribute
            if progress is not None:
                progress(t + 1, t_total)
    finally:
        gl.close()

    mask = view_depth > 0
    depth_range = depth_range or DepthRange.of(view_depth, mask)
    depth = None
    if "depth" in outputs:
        depth = np.repeat(depth_to_image(view_depth, depth_range, depth_floor)[..., None], 3, axis=-1)
    return RenderedFrames(
        mask=mask.astype(np.float32),
        view_depth=view_depth,
        depth_range=depth_range,
        depth=depth,
        normals=normals_rgb,
        shaded=shaded,
        attribute=attribute,
    )


def measure_depth_range(
    vertices: np.ndarray,
    faces: np.ndarray,
    camera: Camera,
    width: int = 512,
    height: int = 512,
    scale: float = 0.25,
    backend: str = "auto",
) -> DepthRange:
    """The clip's visible depth range from a quick depth-only pass at ``scale`` times the size.

    Lets a long clip be rendered in chunks that all share one normalisation (no flicker at chunk
    borders) without holding the whole clip's depth in memory.
    """
    w, h = max(8, int(round(width * scale))), max(8, int(round(height * scale)))
    return render_sequence(vertices, faces, camera, w, h, outputs=(), backend=backend).depth_range
