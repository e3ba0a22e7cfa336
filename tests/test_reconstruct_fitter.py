"""Landmark fitter on synthetic targets: known FLAME parameters projected with a known camera."""

import math

import numpy as np
import pytest
import torch

from x3dtalker_core.errors import X3DError
from x3dtalker_core.flame import load_flame_model
from x3dtalker_core.rotation import axis_angle_to_matrix
from x3dtalker_core.reconstruct.api import _check_pose
from x3dtalker_core.reconstruct.fitter import SurfacePointModel, emoca_crop, fit_landmarks, from_ndc, to_ndc


@pytest.fixture(scope="module")
def model():
    return load_flame_model(n_shape=100, n_exp=50)


@pytest.fixture(scope="module")
def head(model):
    fi = np.concatenate([model.mediapipe.face_idx, model.deca68.full.face_idx])
    ba = np.concatenate([model.mediapipe.bary, model.deca68.full.bary])
    return SurfacePointModel(model, fi, ba)


def rotation_error_deg(a, b):
    ra = axis_angle_to_matrix(torch.tensor(a, dtype=torch.float64))
    rb = axis_angle_to_matrix(torch.tensor(b, dtype=torch.float64))
    return math.degrees(math.acos(max(-1.0, min(1.0, (float((ra.T @ rb).trace()) - 1.0) / 2.0))))


def synthetic_targets(model, rng, yaw=None):
    shape = rng.normal(0, 1, 100).astype(np.float32)
    exp = np.abs(rng.normal(0, 0.15, 50)).astype(np.float32)
    head_rot = [rng.uniform(-0.25, 0.25), rng.uniform(-0.6, 0.6) if yaw is None else yaw, rng.uniform(-0.2, 0.2)]
    pose = np.array(head_rot + [rng.uniform(0.0, 0.3), 0.0, 0.0], np.float32)
    with torch.no_grad():
        v = model(shape=torch.tensor(shape)[None], expression=torch.tensor(exp)[None], pose=torch.tensor(pose)[None])
        pts = torch.cat([model.landmarks_mediapipe(v), model.landmarks68(v)], 1)[0].numpy().astype(np.float64)
    cam = np.array([5.0, 0.01, 0.02])
    return from_ndc(cam[0] * (pts[:, :2] + cam[1:]), np.array([0.0, 0.0, 512.0])), pose


def test_surface_point_model_is_exact(model, head):
    s, e = torch.randn(1, 100), 0.3 * torch.randn(1, 50)
    p = torch.tensor([[0.2, 0.4, 0.1, 0.25, 0.05, 0.02]])
    with torch.no_grad():
        v = model(shape=s, expression=e, pose=p)
        full = torch.cat([model.landmarks_mediapipe(v), model.landmarks68(v)], 1)
        assert torch.allclose(head(s, e, p), full, atol=1e-6)


def test_fit_recovers_pose_and_jaw(model, head):
    rng = np.random.default_rng(7)
    for _ in range(3):
        targets, pose = synthetic_targets(model, rng)
        fit = fit_landmarks(head, targets)
        assert fit.residual_px < 1.0, fit.residual_px
        assert rotation_error_deg(pose[:3], fit.pose[:3]) < 2.0
        assert rotation_error_deg(pose[3:], fit.pose[3:]) < 2.0
        # the camera maps the fitted points back onto the targets in the photo's pixels
        assert np.allclose(fit.points, targets, atol=4.0)


def test_fit_ignores_zero_weight_points(model, head):
    rng = np.random.default_rng(3)
    targets, pose = synthetic_targets(model, rng)
    w = np.ones(len(targets))
    w[105:] = 0.0  # MediaPipe points only
    targets[105:] = np.nan
    fit = fit_landmarks(head, targets, weights=w)
    assert np.isnan(fit.errors_px[105:]).all()
    assert rotation_error_deg(pose[:3], fit.pose[:3]) < 3.0


def test_profile_is_refused(model, head):
    targets, _ = synthetic_targets(model, np.random.default_rng(5), yaw=1.45)
    fit = fit_landmarks(head, targets)
    with pytest.raises(X3DError, match="profile"):
        _check_pose(fit.pose)


def test_bad_targets(head):
    with pytest.raises(X3DError, match="must be"):
        fit_landmarks(head, np.zeros((10, 2)))
    with pytest.raises(X3DError):
        fit_landmarks(head, np.full((head.select.shape[0], 2), np.nan))


def test_crop_round_trip():
    pts = np.array([[100.0, 120.0], [200.0, 260.0], [150.0, 180.0]])
    crop = emoca_crop(pts)
    assert np.allclose(from_ndc(to_ndc(pts, crop), crop), pts)
    assert crop[2] == pytest.approx((100 + 140) / 2 * 1.1 * 1.25)
