"""Rasterised frames: analytic depth, normalisation per clip, normals, mask, callbacks, FLAME sanity."""

import math

import numpy as np
import pytest

from helpers import gl_available
from x3dtalker_core.errors import X3DError
from x3dtalker_core.render import (
    Camera,
    DepthRange,
    Framing,
    RenderCancelled,
    camera_preset,
    depth_to_image,
    image_to_depth,
    look_at,
    measure_depth_range,
    orthographic_from_emoca,
    render_sequence,
)


pytestmark = pytest.mark.skipif(not gl_available(), reason="no offscreen OpenGL (install libegl1 libgl1-mesa-dri)")


def box(half: float) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned cube centred at the origin, outward counter-clockwise triangles."""
    v = np.array([[x, y, z] for x in (-half, half) for y in (-half, half) for z in (-half, half)], np.float32)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [tri for a, b, c, d in quads for tri in ((a, b, c), (a, c, d))]
    return v, np.array(faces)


def rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])


def frontal(distance: float, fov_deg: float = 30.0) -> Camera:
    return Camera("perspective", look_at(np.array([0.0, 0.0, distance]), np.zeros(3)), fov_y=math.radians(fov_deg))


def test_tilted_plane_depth_matches_ray_intersection():
    size, dist, tilt = 64, 2.0, math.radians(35)
    plane = np.array([[-3, -3, 0], [3, -3, 0], [3, 3, 0], [-3, 3, 0]], np.float32) @ rot_y(35).T
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    camera = frontal(dist)
    out = render_sequence(plane, faces, camera, size, size, outputs=())
    assert out.mask.all()  # the plane fills the view
    ndc = (np.arange(size) + 0.5) / size * 2 - 1
    tan = math.tan(math.radians(15))
    dx = np.broadcast_to(ndc[None, :] * tan, (size, size))
    normal = np.array([math.sin(tilt), 0.0, math.cos(tilt)])
    # ray from (0,0,dist) along (dx, dy, -1): n . (eye + t dir) = 0, view depth = t
    expected = -(normal[2] * dist) / (normal[0] * dx - normal[2])
    err = np.abs(out.view_depth[0] - expected)
    assert err.max() < 0.01 * (expected.max() - expected.min())


def test_rotated_cube_depth_orthographic():
    half, size, scale = 0.1, 128, 5.0
    v, f = box(half)
    v = v @ rot_y(45).T  # an edge points at the camera: depth falls linearly to both sides
    camera = orthographic_from_emoca(np.array([scale, 0.0, 0.0]), distance=1.0)
    out = render_sequence(v, f, camera, size, size, outputs=("depth",))
    x = ((np.arange(size) + 0.5) / size * 2 - 1) / scale
    inside = np.abs(x) < half * math.sqrt(2) - 2 / (size * scale)  # away from the silhouette pixels
    row = out.view_depth[0, size // 2]
    expected = 1.0 - (half * math.sqrt(2) - np.abs(x))
    depth_span = half * math.sqrt(2)
    assert np.abs(row[inside] - expected[inside]).max() < 0.01 * depth_span
    assert out.mask[0, size // 2, inside].all() and not out.mask[0, 0].any()
    # near = bright: the front edge is the brightest column, the background black
    img = out.depth[0, size // 2, :, 0]
    assert img[size // 2] == pytest.approx(1.0, abs=0.03) and img[0] == 0.0
    # the stored range inverts the image back to metres
    np.testing.assert_allclose(image_to_depth(out.depth[0, ..., 0], out.depth_range), out.view_depth[0], atol=1e-5)


def test_static_mesh_renders_identical_frames_and_callbacks():
    v, f = box(0.1)
    seq = np.repeat((v @ rot_y(30).T)[None], 4, axis=0)
    calls = []
    out = render_sequence(seq, f, frontal(1.0), 48, 32, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for name in ("depth", "normals", "shaded", "mask", "view_depth"):
        arr = getattr(out, name)
        assert arr.dtype == np.float32 and arr.shape[:3] == (4, 32, 48)
        assert (arr == arr[:1]).all(), name
    assert out.depth.shape == (4, 32, 48, 3) and out.mask.shape == (4, 32, 48)
    for name in ("depth", "normals", "shaded"):
        assert getattr(out, name).min() >= 0 and getattr(out, name).max() <= 1
    with pytest.raises(RenderCancelled):
        render_sequence(seq, f, frontal(1.0), 16, 16, should_stop=lambda: len(calls) >= 5,
                        progress=lambda d, t: calls.append(d))
    assert len(calls) == 5  # stopped before the second frame


def test_normals_in_camera_space_and_attribute_is_interpolated():
    quad = np.array([[-0.1, -0.1, 0], [0.1, -0.1, 0], [0.1, 0.1, 0], [-0.1, 0.1, 0]], np.float32) @ rot_y(30).T
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    out = render_sequence(quad, faces, frontal(1.0), 32, 32, vertex_attribute=np.full(4, 0.25, np.float32))
    n = np.array([math.sin(math.radians(30)), 0.0, math.cos(math.radians(30))])  # turned toward +x: redder
    np.testing.assert_allclose(out.normals[0, 16, 16], 0.5 * n + 0.5, atol=1e-3)
    # seen from behind, the back face's normal is turned toward the viewer
    back = Camera("perspective", look_at(np.array([0.0, 0.0, -1.0]), np.zeros(3)), fov_y=math.radians(30))
    behind = render_sequence(quad, faces, back, 32, 32, outputs=("normals",))
    assert behind.normals[0, 16, 16, 2] > 0.9
    assert out.mask.sum() > 100
    assert out.attribute[0][out.mask[0] > 0] == pytest.approx(0.25)
    assert (out.attribute[0][out.mask[0] == 0] == 0).all()


def test_depth_normalisation_is_per_clip_not_per_frame():
    v, f = box(0.1)
    seq = np.stack([v + np.array([0.0, 0.0, dz], np.float32) for dz in (0.0, -0.1, -0.2)])  # moves away
    out = render_sequence(seq, f, frontal(1.0, 40), 32, 32, outputs=("depth",))
    # the front face keeps its metric depth per frame, so a single mapping must get darker as it recedes
    centre = out.depth[:, 16, 16, 0]
    assert centre[0] == pytest.approx(1.0) and centre[0] > centre[1] > centre[2]
    assert out.depth_range == DepthRange.of(out.view_depth)
    fixed = DepthRange(0.5, 2.0)
    again = render_sequence(seq, f, frontal(1.0, 40), 32, 32, outputs=("depth",), depth_range=fixed)
    np.testing.assert_allclose(again.depth[..., 0], depth_to_image(again.view_depth, fixed))
    quick = measure_depth_range(seq, f, frontal(1.0, 40), 32, 32, scale=0.5)
    assert quick.near == pytest.approx(out.depth_range.near, abs=0.01)


def test_bad_inputs_raise():
    v, f = box(0.1)
    with pytest.raises(X3DError):
        render_sequence(v, f + 10, frontal(1.0), 16, 16)
    with pytest.raises(X3DError):
        render_sequence(v, f, frontal(1.0), 16, 16, outputs=("colour",))
    with pytest.raises(X3DError):  # the camera looks away: nothing rendered
        render_sequence(v, f, Camera("perspective", look_at(np.array([0, 0, 1.0]), np.array([0, 0, 2.0])),
                                     fov_y=0.5), 16, 16)


def test_flame_head_faces_camera_and_mouth_opens(dev_flame):
    import torch

    pose = torch.zeros(2, 6)
    pose[1, 3] = 0.35  # jaw open
    verts = dev_flame(shape=torch.zeros(2, 100), expression=torch.zeros(2, 50), pose=pose).numpy()
    faces = dev_flame.faces.numpy()
    camera = camera_preset("static", Framing.fit(verts), 2, 25.0)
    size = 96
    out = render_sequence(verts, faces, camera, size, size, outputs=("depth", "normals"))
    # the nose tip (largest z) is the nearest visible point: the brightest depth pixel is near it
    nose = verts[0, verts[0, :, 2].argmax()]
    view = camera.view[0]
    p = camera.projection(0, 1.0, 0.1, 10.0) @ view @ np.r_[nose, 1.0]
    col, row = ((p[0] / p[3] + 1) / 2 * size), ((1 - p[1] / p[3]) / 2 * size)
    bright = np.unravel_index(out.depth[0, ..., 0].argmax(), (size, size))
    assert abs(bright[0] - row) <= 3 and abs(bright[1] - col) <= 3
    # most of the head's normals point at the viewer (blue > 0.5)
    assert (out.normals[0, ..., 2][out.mask[0] > 0] > 0.5).mean() > 0.9
    # opening the jaw shows the mouth cavity: pixels below the nose get much deeper
    lips = slice(int(row) + 4, int(row) + 20), slice(int(col) - 4, int(col) + 5)
    deeper = out.view_depth[1][lips] - out.view_depth[0][lips]
    assert deeper.max() > 0.05
