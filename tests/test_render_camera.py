"""Cameras: EMOCA orthographic convention, look-at, presets and keyframes (no GL needed)."""

import math

import numpy as np
import pytest

from x3dtalker_core.errors import X3DError
from x3dtalker_core.render.camera import (
    Camera,
    CameraKey,
    Framing,
    camera_preset,
    keyframed_camera,
    look_at,
    orthographic_from_emoca,
    parse_keyframes,
)


def project(camera: Camera, points: np.ndarray, t: int = 0, aspect: float = 1.0) -> np.ndarray:
    """NDC (N, 3) of world points through the camera's view and projection."""
    view = camera.view[camera.frame_index(t)]
    proj = camera.projection(t, aspect, 0.1, 10.0)
    hom = np.c_[points, np.ones(len(points))] @ (proj @ view).T
    return hom[:, :3] / hom[:, 3:]


def test_orthographic_matches_deca_batch_orth_proj():
    cam = np.array([[7.5, 0.01, -0.02], [9.0, -0.03, 0.04]])
    camera = orthographic_from_emoca(cam)
    pts = np.array([[0.05, -0.1, 0.02], [-0.07, 0.08, -0.1]])
    for t in range(2):
        ndc = project(camera, pts, t)
        s, tx, ty = cam[t]
        np.testing.assert_allclose(ndc[:, 0], s * (pts[:, 0] + tx), atol=1e-9)
        np.testing.assert_allclose(ndc[:, 1], s * (pts[:, 1] + ty), atol=1e-9)
    # depth is measured from the camera plane in front of the face
    np.testing.assert_allclose(camera.view_depth(pts, 0), 1.0 - pts[:, 2])


def test_orthographic_wide_output_keeps_vertical_scale():
    camera = orthographic_from_emoca(np.array([8.0, 0.0, 0.0]))
    ndc = project(camera, np.array([[0.1, 0.1, 0.0]]), aspect=2.0)
    np.testing.assert_allclose(ndc[0, :2], [0.4, 0.8])


def test_look_at_puts_target_straight_ahead():
    view = look_at(np.array([0.3, 0.2, 1.0]), np.array([0.0, 0.1, 0.0]))
    target_cam = view @ np.array([0.0, 0.1, 0.0, 1.0])
    np.testing.assert_allclose(target_cam[:2], 0.0, atol=1e-12)
    assert target_cam[2] < 0  # in front: the camera looks along -z
    np.testing.assert_allclose(view[:3, :3] @ view[:3, :3].T, np.eye(3), atol=1e-12)


def test_framing_fits_sphere_in_view():
    pts = np.random.default_rng(0).normal(size=(500, 3)) * 0.1
    framing = Framing.fit(pts, fov_deg=20)
    camera = camera_preset("static", framing, 1, 25.0)
    ndc = project(camera, pts)
    assert np.abs(ndc[:, :2]).max() < 1.0


@pytest.mark.parametrize("name", ["static", "orbit", "dolly", "pan"])
def test_presets_have_one_camera_per_frame_and_see_the_target(name):
    framing = Framing(np.array([0.0, 0.0, 0.0]), 1.0, math.radians(20))
    camera = camera_preset(name, framing, 50, 25.0)
    assert camera.num_frames == 50 and camera.kind == "perspective"
    for t in (0, 25, 49):
        ndc = project(camera, np.zeros((1, 3)), t)
        assert np.abs(ndc[0, :2]).max() < 0.5


def test_dolly_moves_in_and_orbit_swings():
    framing = Framing(np.zeros(3), 1.0, math.radians(20))
    dolly = camera_preset("dolly", framing, 30, 25.0)
    d = dolly.view_depth(np.zeros((1, 3)), 0)[0], dolly.view_depth(np.zeros((1, 3)), 29)[0]
    np.testing.assert_allclose(d, [1.0, 0.7], atol=1e-9)
    orbit = camera_preset("orbit", framing, 100, 25.0)  # 4 s: yaw reaches +25 degrees at 2 s
    eye = -np.einsum("tji,tj->ti", orbit.view[:, :3, :3], orbit.view[:, :3, 3])
    yaw = np.degrees(np.arctan2(eye[:, 0], eye[:, 2]))
    assert 24.0 < yaw.max() <= 25.0 + 1e-6 and abs(yaw[0]) < 1e-6


def test_keyframes_parse_and_interpolate():
    keys = parse_keyframes("0:yaw=0; 2:yaw=20,pitch=10,zoom=0.5")
    assert keys == [CameraKey(0.0), CameraKey(2.0, yaw=20.0, pitch=10.0, zoom=0.5)]
    camera = keyframed_camera(keys, Framing(np.zeros(3), 1.0, 0.3), 75, 25.0)
    dist = [camera.view_depth(np.zeros((1, 3)), t)[0] for t in (0, 25, 50, 74)]
    np.testing.assert_allclose(dist, [1.0, 0.75, 0.5, 0.5], atol=1e-9)  # eased midpoint, then held
    via_preset = camera_preset("keys:0:yaw=0;2:yaw=20,pitch=10,zoom=0.5", Framing(np.zeros(3), 1.0, 0.3), 75, 25.0)
    np.testing.assert_allclose(via_preset.view, camera.view)


@pytest.mark.parametrize("text", ["0:roll=3", "abc:yaw=1", "", "0:zoom=0"])
def test_bad_keyframes_raise(text):
    with pytest.raises(X3DError):
        camera_preset("keys:" + text, Framing(np.zeros(3), 1.0, 0.3), 10, 25.0)


def test_bad_camera_inputs_raise():
    with pytest.raises(X3DError):
        orthographic_from_emoca(np.array([-1.0, 0.0, 0.0]))
    with pytest.raises(X3DError):
        camera_preset("spin", Framing(np.zeros(3), 1.0, 0.3), 10, 25.0)
    with pytest.raises(X3DError):
        Camera("perspective", np.eye(4), fov_y=4.0)
    cam = camera_preset("orbit", Framing(np.zeros(3), 1.0, 0.3), 10, 25.0)
    with pytest.raises(X3DError):
        cam.check_frames(11)
    assert cam.slice(2, 5).num_frames == 3


def test_photo_cam_lands_points_on_the_same_photo_pixels():
    from x3dtalker_core.render.camera import orthographic_from_emoca, photo_cam

    rng = np.random.default_rng(0)
    points = rng.normal(scale=0.05, size=(20, 3))
    cam = np.array([[7.5, 0.01, -0.02]])
    crop, (height, width) = (140.0, 60.0, 210.0), (480, 640)
    # pixels in the photo through the crop: crop NDC -> crop pixels -> photo pixels (y down)
    u = crop[0] + (cam[0, 0] * (points[:, 0] + cam[0, 1]) + 1) / 2 * crop[2]
    v = crop[1] + (1 - cam[0, 0] * (points[:, 1] + cam[0, 2])) / 2 * crop[2]
    for aspect, (w_out, h_out, dx, dy) in {None: (640, 480, 0, 0), 1.0: (480, 480, 80, 0)}.items():
        camera = orthographic_from_emoca(photo_cam(cam, crop, (height, width), aspect))
        proj = camera.projection(0, w_out / h_out, 0.1, 10.0) @ camera.view[0]
        clip = np.c_[points, np.ones(len(points))] @ proj.T
        u_out = (clip[:, 0] + 1) / 2 * w_out + dx
        v_out = (1 - clip[:, 1]) / 2 * h_out + dy
        np.testing.assert_allclose(u_out, u, atol=1e-6)
        np.testing.assert_allclose(v_out, v, atol=1e-6)
