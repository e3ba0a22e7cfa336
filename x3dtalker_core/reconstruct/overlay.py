"""Check images for a fit: the fitted mesh shaded over the photo, plus detected/fitted landmarks.

A small numpy z-buffer rasteriser (one photo, ~10k triangles, well under a second) keeps this
independent of the video renderer's OpenGL stack, so the overlay works on any machine. The same
rasteriser draws the synthetic test faces (skin-coloured, Gouraud-shaded FLAME heads).
"""

from __future__ import annotations

import numpy as np

SKIN = np.array([0.86, 0.67, 0.55], np.float32)
LIPS = np.array([0.72, 0.36, 0.36], np.float32)
EYES = np.array([0.18, 0.13, 0.10], np.float32)
LIGHT_DIR = np.array([0.3, 0.4, 1.0], np.float32) / np.linalg.norm([0.3, 0.4, 1.0])


def project_orthographic(vertices: np.ndarray, cam: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """EMOCA orthographic projection into image pixels.

    Args:
        vertices: (N, 3) metres (+y up, +z toward the camera).
        cam: (3,) scale, tx, ty: ``ndc = scale * (xy + t)``, y flipped to image rows.
        crop: (3,) x0, y0, size of the square crop the NDC [-1, 1] range spans, image pixels.

    Returns:
        (N, 3): u, v pixels and depth (the vertex z; larger = nearer).
    """
    s, tx, ty = (float(c) for c in cam)
    x0, y0, size = (float(c) for c in crop)
    u = x0 + (s * (vertices[:, 0] + tx) + 1.0) * size / 2.0
    v = y0 + (-s * (vertices[:, 1] + ty) + 1.0) * size / 2.0
    return np.stack([u, v, vertices[:, 2]], axis=1)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) area-weighted unit vertex normals."""
    tri = vertices[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def rasterize(
    screen: np.ndarray, faces: np.ndarray, colors: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered Gouraud rasterisation.

    Args:
        screen: (V, 3) u, v pixels and depth (larger = nearer).
        faces: (F, 3) int.
        colors: (V, 3) float per-vertex colours.

    Returns:
        rgb (H, W, 3) float32 and coverage mask (H, W) bool.
    """
    depth = np.full((height, width), -np.inf, np.float32)
    rgb = np.zeros((height, width, 3), np.float32)
    tri = screen[faces]  # (F, 3, 3)
    # Only faces that can show up: on screen and non-degenerate.
    lo = np.floor(tri[:, :, :2].min(1)).astype(int)
    hi = np.ceil(tri[:, :, :2].max(1)).astype(int)
    visible = (hi[:, 0] >= 0) & (hi[:, 1] >= 0) & (lo[:, 0] < width) & (lo[:, 1] < height)
    for f in np.nonzero(visible)[0]:
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = tri[f]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-9:
            continue
        x0, y0 = max(lo[f, 0], 0), max(lo[f, 1], 0)
        x1, y1 = min(hi[f, 0], width - 1), min(hi[f, 1], height - 1)
        if x1 < x0 or y1 < y0:
            continue
        px, py = np.meshgrid(np.arange(x0, x1 + 1) + 0.5, np.arange(y0, y1 + 1) + 0.5)
        w0 = ((bx - px) * (cy - py) - (by - py) * (cx - px)) / area
        w1 = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) / area
        w2 = 1.0 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        if not inside.any():
            continue
        z = w0 * az + w1 * bz + w2 * cz
        region = depth[y0 : y1 + 1, x0 : x1 + 1]
        win = inside & (z > region)
        if not win.any():
            continue
        region[win] = z[win]
        ci = faces[f]
        col = w0[win, None] * colors[ci[0]] + w1[win, None] * colors[ci[1]] + w2[win, None] * colors[ci[2]]
        rgb[y0 : y1 + 1, x0 : x1 + 1][win] = col
    return rgb, np.isfinite(depth)


def shaded_colors(vertices: np.ndarray, faces: np.ndarray, albedo: np.ndarray) -> np.ndarray:
    """(V, 3) Lambert + ambient vertex colours for a camera looking down -z."""
    n = vertex_normals(vertices, faces)
    lambert = np.clip(n @ LIGHT_DIR, 0.0, 1.0)[:, None]
    return np.clip(albedo * (0.35 + 0.75 * lambert), 0.0, 1.0).astype(np.float32)


def face_albedo(num_vertices: int, masks: dict[str, np.ndarray] | None) -> np.ndarray:
    """(V, 3) skin colour with darker eyes and red lips where FLAME region masks are available."""
    albedo = np.tile(SKIN, (num_vertices, 1))
    if masks:
        if "lips" in masks:
            albedo[masks["lips"]] = LIPS
        for key in ("left_eyeball", "right_eyeball"):
            if key in masks:
                albedo[masks[key]] = EYES
    return albedo


def render_head(
    vertices: np.ndarray,
    faces: np.ndarray,
    cam: np.ndarray,
    crop: np.ndarray,
    height: int,
    width: int,
    masks: dict[str, np.ndarray] | None = None,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Skin-shaded head over ``background`` (H, W, 3) uint8 (a soft grey gradient when None).

    Args:
        vertices: (V, 3) metres; cam (3,) and crop (3,) as in :func:`project_orthographic`.

    Returns:
        (H, W, 3) uint8.
    """
    screen = project_orthographic(vertices, cam, crop)
    colors = shaded_colors(vertices, faces, face_albedo(vertices.shape[0], masks))
    rgb, mask = rasterize(screen, faces, colors, height, width)
    if background is None:
        ramp = np.linspace(0.55, 0.35, height, dtype=np.float32)[:, None, None]
        bg = np.broadcast_to(ramp * np.array([0.8, 0.85, 0.95], np.float32), (height, width, 3))
    else:
        bg = background.astype(np.float32) / 255.0
    out = np.where(mask[:, :, None], rgb, bg)
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def draw_points(image: np.ndarray, points: np.ndarray, color: tuple[int, int, int], radius: int = 2) -> np.ndarray:
    """Draw (N, 2) pixel points as filled squares onto a copy of (H, W, 3) uint8."""
    out = image.copy()
    h, w = out.shape[:2]
    for x, y in np.round(points[:, :2]).astype(int):
        out[max(0, y - radius) : min(h, y + radius + 1), max(0, x - radius) : min(w, x + radius + 1)] = color
    return out


def fit_overlay(
    image: np.ndarray,
    vertices: np.ndarray,
    faces: np.ndarray,
    cam: np.ndarray,
    crop: np.ndarray,
    target_points: np.ndarray | None = None,
    fitted_points: np.ndarray | None = None,
    masks: dict[str, np.ndarray] | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    """The photo with the fitted mesh blended on top; targets green, fitted landmarks red.

    Returns:
        (H, W, 3) uint8.
    """
    h, w = image.shape[:2]
    screen = project_orthographic(vertices, cam, crop)
    colors = shaded_colors(vertices, faces, face_albedo(vertices.shape[0], masks))
    rgb, mask = rasterize(screen, faces, colors, h, w)
    photo = image.astype(np.float32) / 255.0
    out = np.where(mask[:, :, None], (1 - alpha) * photo + alpha * rgb, photo)
    out = np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
    radius = max(1, round(max(h, w) / 400))
    if target_points is not None:
        out = draw_points(out, target_points, (40, 220, 40), radius)
    if fitted_points is not None:
        out = draw_points(out, fitted_points, (230, 30, 30), max(1, radius - 1))
    return out
