"""G-buffer -> images: normalised depth, RGB-encoded normals, background compositing; lighting constants.

All functions are pure numpy on float32 arrays in image order; colours are in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import X3DError

DEFAULT_DEPTH_FLOOR = 0.1
"""Image value of the farthest visible surface: keeps the whole head above the black background."""

LIGHT_DIRECTION = np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])
"""Key light in camera space (from upper left, in front): a classic portrait light."""

CLAY_ALBEDO = np.array([0.78, 0.74, 0.71], np.float32)


@dataclass(frozen=True)
class DepthRange:
    """View depths (metres) mapped to 1 (``near``) and to the floor value (``far``)."""

    near: float
    far: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.near) and np.isfinite(self.far)) or self.near <= 0 or self.far < self.near:
            raise X3DError(f"depth range must satisfy 0 < near <= far, got near={self.near} far={self.far}")

    @classmethod
    def of(cls, view_depth: np.ndarray, mask: np.ndarray | None = None) -> DepthRange:
        """The range of the covered pixels of a whole clip ``view_depth`` (T, H, W) (one range per clip:
        a per-frame range would flicker as the head moves)."""
        mask = view_depth > 0 if mask is None else mask
        if not np.any(mask):
            raise X3DError("nothing was rendered: the mesh is outside the camera's view; check the camera")
        values = view_depth[mask]
        return cls(float(values.min()), float(values.max()))


def depth_to_image(
    view_depth: np.ndarray, depth_range: DepthRange, floor: float = DEFAULT_DEPTH_FLOOR
) -> np.ndarray:
    """(..., H, W) float32 in [0, 1]: near = 1, far = ``floor``, background (depth 0) = 0.

    ``value = floor + (1 - floor) * (far - z) / (far - near)``, clipped to [floor, 1] on the mesh.
    Inverse: :func:`image_to_depth`.
    """
    if not 0.0 <= floor < 1.0:
        raise X3DError(f"depth floor must be in [0, 1), got {floor}")
    span = max(depth_range.far - depth_range.near, 1e-9)
    value = floor + (1.0 - floor) * (depth_range.far - view_depth) / span
    return np.where(view_depth > 0, np.clip(value, floor, 1.0), 0.0).astype(np.float32)


def image_to_depth(image: np.ndarray, depth_range: DepthRange, floor: float = DEFAULT_DEPTH_FLOOR) -> np.ndarray:
    """Metric view depth back from a :func:`depth_to_image` image (0 where the image is 0)."""
    span = depth_range.far - depth_range.near
    z = depth_range.far - (image - floor) / (1.0 - floor) * span
    return np.where(image > 0, z, 0.0).astype(np.float32)


def normals_to_image(normal: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) float32: camera-space normal ``n`` encoded as ``0.5 * n + 0.5`` (x right = red,
    y up = green, toward the viewer = blue; a face looking into the camera is (0.5, 0.5, 1)),
    background black."""
    return np.where(mask[..., None], 0.5 * normal + 0.5, 0.0).astype(np.float32)


def composite(colour: np.ndarray, mask: np.ndarray, background: tuple[float, float, float]) -> np.ndarray:
    """(..., H, W, 3) float32: ``colour`` where ``mask``, the ``background`` colour elsewhere."""
    bg = np.asarray(background, np.float32)
    if not np.any(bg):
        return np.where(mask[..., None], colour, 0.0).astype(np.float32)
    return np.where(mask[..., None], colour, bg).astype(np.float32)
