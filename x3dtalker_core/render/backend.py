"""The rasteriser interface: one mesh frame + camera matrices in, a G-buffer out.

Everything above this layer (depth normalisation, normal encoding, shading, cameras, video) is
plain numpy shared by every backend, so a backend only has to rasterise. The one backend shipped
is :mod:`.moderngl_backend` (OpenGL 3.3 through EGL; on a machine without a GPU, Mesa's llvmpipe
EGL driver renders on the CPU). It was chosen over pyrender by measurement, see ``bench/render.py``
and the README: pyrender has no way to update a mesh's vertex buffer in place, and rebuilding the
mesh every frame made it several times slower at 512x512.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import X3DError

BACKENDS = ("moderngl",)
"""Backend names accepted by :func:`create_backend` (``"auto"`` picks the first that works)."""


@dataclass(frozen=True)
class GBuffer:
    """What one rasterised frame carries, in image order (row 0 = top).

    Attributes:
        view_depth: (H, W) float32 distance along the camera axis in metres; 0 where no surface.
        normal: (H, W, 3) float32 unit camera-space normal facing the camera (x right, y up, z toward
            the viewer); 0 where no surface. None when drawn without normals (depth-only path).
        attribute: (H, W) float32 interpolated per-vertex attribute, or None when none was given.
        shaded: (H, W, 3) float32 lit clay colour (black background), or None when not asked for.
    """

    view_depth: np.ndarray
    normal: np.ndarray | None
    attribute: np.ndarray | None = None
    shaded: np.ndarray | None = None

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool: pixels covered by the mesh."""
        return self.view_depth > 0


@dataclass(frozen=True)
class VideoLayers:
    """One frame rasterised straight to 8-bit video layers, in image order (row 0 = top).

    Attributes:
        depth: (H, W) uint8 normalised depth (:func:`.images.depth_to_image` times 255); 0 = background.
        shaded: (H, W, 3) uint8 lit clay preview over the background colour, or None (depth-only draw).
        normals: (H, W, 3) uint8 camera-space normals as ``0.5 n + 0.5``, background black; or None.
    """

    depth: np.ndarray
    shaded: np.ndarray | None = None
    normals: np.ndarray | None = None


class RenderBackend(Protocol):
    """A rasteriser bound to one output size and one triangle list."""

    name: str
    width: int
    height: int

    def draw(
        self,
        vertices: np.ndarray,
        normals: np.ndarray | None,
        view: np.ndarray,
        projection: np.ndarray,
        attribute: np.ndarray | None = None,
        shaded: bool = False,
    ) -> GBuffer:
        """Rasterise one frame.

        Args:
            vertices: (V, 3) float32 world positions.
            normals: (V, 3) float32 unit world normals, or None when only depth is needed.
            view: (4, 4) world -> camera transform.
            projection: (4, 4) camera -> clip transform.
            attribute: (V,) float32 per-vertex value to interpolate, or None.
            shaded: also produce the lit preview (:data:`.images.LIGHT_DIRECTION`, :data:`.images.CLAY_ALBEDO`).
        """
        ...

    def draw_video(
        self,
        vertices: np.ndarray,
        normals: np.ndarray | None,
        view: np.ndarray,
        projection: np.ndarray,
        depth_range: tuple[float, float],
        depth_floor: float,
        background: tuple[float, float, float] = (0.0, 0.0, 0.0),
        want_normals: bool = False,
    ) -> VideoLayers:
        """Rasterise one frame to 8-bit video layers in a single pass (what the mp4 writers take).

        Depth is normalised on the GPU with the clip's ``depth_range`` (near, far) metres and
        ``depth_floor`` exactly as :func:`.images.depth_to_image`; with ``normals`` the same draw also
        gives the shaded preview over ``background`` and, with ``want_normals``, the encoded normals.
        """
        ...

    def close(self) -> None:
        """Release the GL context and buffers."""
        ...


def create_backend(name: str, width: int, height: int, faces: np.ndarray, num_vertices: int) -> RenderBackend:
    """Open backend ``name`` (``"auto"`` or one of :data:`BACKENDS`) for ``faces`` (F, 3) at width x height."""
    if width < 1 or height < 1:
        raise X3DError(f"render size must be positive, got {width}x{height}")
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
        raise X3DError(f"faces must have shape (F, 3), got {faces.shape}")
    if faces.min() < 0 or faces.max() >= num_vertices:
        raise X3DError(f"faces index vertices outside 0..{num_vertices - 1}")
    if name not in ("auto", *BACKENDS):
        raise X3DError(f"unknown render backend {name!r}: use 'auto' or one of {', '.join(BACKENDS)}")
    from .moderngl_backend import ModernGLBackend

    return ModernGLBackend(width, height, faces, num_vertices)
