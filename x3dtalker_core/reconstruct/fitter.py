"""Fit FLAME to 2D landmarks: shape, expression, head + jaw pose and an EMOCA orthographic camera.

The camera follows EMOCA: the face crop is a square ``crop = (x0, y0, size)`` in image pixels whose
normalised coordinates run over [-1, 1] (y up), and a point projects as ``ndc = s * (xy + t)``.
Residuals are measured in pixels of a 224-pixel crop (EMOCA's input size) so that the prior
weights do not depend on the photo's resolution; :attr:`LandmarkFit.residual_px` is reported in
the photo's own pixels.

Only the few hundred vertices that carry landmarks are skinned (:class:`SurfacePointModel`):
the joints are linear in the shape and expression coefficients, so their regressors are folded
into small matrices once, and an optimiser step costs ~1/20th of a full FLAME forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import X3DError
from ..flame.lbs import axis_angle_to_matrix, linear_blend_skinning, skinning_transforms

CROP_PIXELS = 224.0


class SurfacePointModel(nn.Module):
    """FLAME restricted to barycentric surface points (exact, not an approximation).

    Args:
        model: a loaded :class:`~x3dtalker_core.flame.FlameModel`.
        face_idx: (L,) triangle of each point; bary: (L, 3) barycentric weights.
        n_shape, n_exp: coefficients optimised.
    """

    def __init__(self, model, face_idx: np.ndarray, bary: np.ndarray, n_shape: int = 100, n_exp: int = 50) -> None:
        super().__init__()
        faces = model.faces.cpu()
        tri = faces[torch.as_tensor(face_idx, dtype=torch.long)]  # (L, 3)
        used, inverse = torch.unique(tri.reshape(-1), return_inverse=True)
        n_used = used.numel()
        self.n_shape = min(n_shape, model.n_shape)
        self.n_exp = min(n_exp, model.n_exp)
        self.parents = list(model.parents)
        f32 = torch.float32
        rows = (used[:, None] * 3 + torch.arange(3)).reshape(-1)  # rows of the (3V, K) bases

        select = torch.zeros(tri.shape[0], n_used, dtype=f32)
        select.scatter_add_(1, inverse.view(-1, 3), torch.as_tensor(bary, dtype=f32))
        self.register_buffer("select", select)  # (L, U)
        self.register_buffer("v_template", model.v_template.cpu()[used].to(f32))
        self.register_buffer("shape_dirs", model.shape_dirs.cpu()[rows, : self.n_shape].to(f32))
        self.register_buffer("exp_dirs", model.exp_dirs.cpu()[rows, : self.n_exp].to(f32))
        self.register_buffer("pose_dirs", model.pose_dirs.cpu()[:, rows].to(f32))
        self.register_buffer("lbs_weights", model.lbs_weights.cpu()[used].to(f32))

        n_vert = model.num_vertices
        j_reg = model.J_regressor.cpu().to(f32)
        self.register_buffer("joints_template", j_reg @ model.v_template.cpu().to(f32))  # (J, 3)
        sd = model.shape_dirs.cpu()[:, : self.n_shape].to(f32).view(n_vert, 3, -1)
        ed = model.exp_dirs.cpu()[:, : self.n_exp].to(f32).view(n_vert, 3, -1)
        self.register_buffer("joints_shape", torch.einsum("jv,vck->jck", j_reg, sd).reshape(-1, self.n_shape))
        self.register_buffer("joints_exp", torch.einsum("jv,vck->jck", j_reg, ed).reshape(-1, self.n_exp))

    def forward(self, shape: torch.Tensor, expression: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """(B, n_shape), (B, n_exp), (B, 6) global + jaw -> (B, L, 3) points, metres."""
        batch = pose.shape[0]
        offsets = shape @ self.shape_dirs.T + expression @ self.exp_dirs.T
        v_shaped = self.v_template + offsets.view(batch, -1, 3)
        joints = self.joints_template + (shape @ self.joints_shape.T + expression @ self.joints_exp.T).view(batch, -1, 3)
        rotvecs = pose.new_zeros(batch, joints.shape[1], 3)
        rotvecs[:, 0] = pose[:, :3]
        rotvecs[:, 2] = pose[:, 3:6]
        rotations = axis_angle_to_matrix(rotvecs)
        eye = torch.eye(3, dtype=pose.dtype)
        pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)
        v_posed = v_shaped + (pose_feature @ self.pose_dirs).view(batch, -1, 3)
        verts = linear_blend_skinning(v_posed, skinning_transforms(rotations, joints, self.parents), self.lbs_weights)
        return self.select @ verts


@dataclass(frozen=True)
class FitSettings:
    """Optimiser and prior settings of the landmark fitter.

    Attributes:
        rigid_iters: L-BFGS iterations for camera + head pose (per yaw start).
        full_iters: L-BFGS iterations for everything.
        yaw_starts: initial head yaws tried in the rigid stage (radians); the best is kept.
        shape_prior, exp_prior: weights of ``|β|²`` and ``|ψ|²`` against the mean squared residual
            in 224-crop pixels.
        jaw_prior: weight of the jaw's sideways/twist rotation (its y and z axis-angle).
        fit_shape: also fit identity (off when the identity is known, e.g. video frames).
    """

    rigid_iters: int = 40
    full_iters: int = 150
    yaw_starts: tuple[float, ...] = (0.0, -0.6, 0.6)
    shape_prior: float = 0.02
    exp_prior: float = 0.02
    jaw_prior: float = 50.0
    fit_shape: bool = True


@dataclass(frozen=True)
class LandmarkFit:
    """Result of :func:`fit_landmarks`.

    Attributes:
        shape: (n_shape,), exp: (n_exp,), pose: (6,) head + jaw axis-angle, cam: (3,) s, tx, ty.
        crop: (3,) x0, y0, size of the square the camera refers to, image pixels.
        points: (L, 2) fitted landmark positions, image pixels.
        errors_px: (L,) per-landmark distance to the target, image pixels.
        residual_px: weighted mean of ``errors_px``.
    """

    shape: np.ndarray
    exp: np.ndarray
    pose: np.ndarray
    cam: np.ndarray
    crop: np.ndarray
    points: np.ndarray
    errors_px: np.ndarray
    residual_px: float


def emoca_crop(points: np.ndarray, scale: float = 1.25) -> np.ndarray:
    """EMOCA's square face crop from landmarks: (x0, y0, size) in pixels.

    The landmark box's mean side x 1.1 (EMOCA's 'mediapipe'/'kpt68' box), times ``scale``, centred on
    the box centre.
    """
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    size = float(((hi - lo).sum() / 2.0) * 1.1 * scale)
    centre = (lo + hi) / 2.0
    return np.array([centre[0] - size / 2.0, centre[1] - size / 2.0, size], np.float64)


def to_ndc(points: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """(L, 2) image pixels -> crop NDC, y up."""
    x0, y0, size = crop
    x = (points[:, 0] - x0) / size * 2.0 - 1.0
    y = -((points[:, 1] - y0) / size * 2.0 - 1.0)
    return np.stack([x, y], axis=1)


def from_ndc(ndc: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_ndc`."""
    x0, y0, size = crop
    return np.stack([x0 + (ndc[:, 0] + 1.0) * size / 2.0, y0 + (-ndc[:, 1] + 1.0) * size / 2.0], axis=1)


def _project(points3d: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """(B, L, 3), (B, 3) [log s, tx, ty] -> (B, L, 2) NDC."""
    return torch.exp(cam[:, :1, None]) * (points3d[..., :2] + cam[:, None, 1:3])


def _lbfgs(params: list[torch.Tensor], closure, iters: int) -> None:
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)
    opt.step(closure)


def fit_landmarks(
    head: SurfacePointModel,
    targets: np.ndarray,
    weights: np.ndarray | None = None,
    crop: np.ndarray | None = None,
    settings: FitSettings = FitSettings(),
    init_shape: np.ndarray | None = None,
) -> LandmarkFit:
    """Fit FLAME to 2D landmarks.

    Args:
        head: surface-point model whose L points correspond to ``targets``.
        targets: (L, 2) image pixels; rows with weight 0 are ignored.
        weights: (L,) per-landmark weights (default 1).
        crop: (3,) camera crop; default :func:`emoca_crop` of the targets.
        init_shape: (n_shape,) starting (or, with ``fit_shape=False``, fixed) identity.

    Returns:
        :class:`LandmarkFit`.
    """
    targets = np.asarray(targets, np.float64)
    n_pts = head.select.shape[0]
    if targets.shape != (n_pts, 2):
        raise X3DError(f"landmark targets must be ({n_pts}, 2), got {targets.shape}")
    w = np.ones(n_pts) if weights is None else np.asarray(weights, np.float64)
    if not np.all(np.isfinite(targets[w > 0])):
        raise X3DError("landmark targets contain NaN or infinite values")
    crop = emoca_crop(targets[w > 0]) if crop is None else np.asarray(crop, np.float64)
    if crop[2] <= 0:
        raise X3DError("landmarks span zero pixels; the face is too small or the points are degenerate")

    dtype = torch.float32
    y = torch.as_tensor(to_ndc(targets, crop), dtype=dtype)[None]  # (1, L, 2)
    wt = torch.as_tensor(w / w.sum(), dtype=dtype)[None, :, None]
    px = CROP_PIXELS / 2.0  # NDC -> 224-crop pixels

    shape = torch.zeros(1, head.n_shape, dtype=dtype)
    if init_shape is not None:
        shape[0, : len(init_shape)] = torch.as_tensor(init_shape[: head.n_shape], dtype=dtype)
    exp = torch.zeros(1, head.n_exp, dtype=dtype)

    def data_term(points2d: torch.Tensor) -> torch.Tensor:
        return (((points2d - y) * px) ** 2 * wt).sum(dim=(1, 2))

    # Camera start: scale and offset that match the neutral head's landmarks in the least-squares sense.
    with torch.no_grad():
        neutral = head(shape, exp, torch.zeros(1, 6))[0, :, :2].numpy()
    m = w > 0
    xm, ym = neutral[m], y[0].numpy()[m]
    s0 = math.sqrt(((ym - ym.mean(0)) ** 2).sum() / max(((xm - xm.mean(0)) ** 2).sum(), 1e-12))
    t0 = ym.mean(0) / s0 - xm.mean(0)

    # Stage 1: camera + head rotation, from a few yaws (orthographic yaw is easy to trap at 0).
    best = None
    for yaw in settings.yaw_starts:
        cam = torch.tensor([[math.log(s0), t0[0], t0[1]]], dtype=dtype, requires_grad=True)
        rot = torch.tensor([[0.0, yaw, 0.0]], dtype=dtype, requires_grad=True)

        def closure_rigid():
            opt_params_zero_grad(cam, rot)
            pose = torch.cat([rot, torch.zeros(1, 3)], dim=1)
            loss = data_term(_project(head(shape, exp, pose), cam)).sum()
            loss.backward()
            return loss

        _lbfgs([cam, rot], closure_rigid, settings.rigid_iters)
        with torch.no_grad():
            pose = torch.cat([rot, torch.zeros(1, 3)], dim=1)
            loss = float(data_term(_project(head(shape, exp, pose), cam)))
        if best is None or loss < best[0]:
            best = (loss, cam.detach().clone(), rot.detach().clone())
    _, cam0, rot0 = best

    # Stage 2: everything, with priors.
    cam = cam0.clone().requires_grad_(True)
    pose = torch.cat([rot0, torch.zeros(1, 3)], dim=1).requires_grad_(True)
    exp = exp.clone().requires_grad_(True)
    shape = shape.clone().requires_grad_(settings.fit_shape)
    free = [cam, pose, exp] + ([shape] if settings.fit_shape else [])
    shape_ref = shape.detach().clone()

    def closure_full():
        opt_params_zero_grad(*free)
        loss = data_term(_project(head(shape, exp, pose), cam)).sum()
        loss = loss + settings.exp_prior * (exp**2).sum() + settings.jaw_prior * (pose[:, 4:6] ** 2).sum()
        if settings.fit_shape:
            loss = loss + settings.shape_prior * (shape**2).sum()
        loss.backward()
        return loss

    _lbfgs(free, closure_full, settings.full_iters)
    if not settings.fit_shape:
        shape = shape_ref

    with torch.no_grad():
        ndc = _project(head(shape, exp, pose), cam)[0].numpy().astype(np.float64)
    points = from_ndc(ndc, crop)
    errors = np.linalg.norm(points - targets, axis=1)
    errors[w <= 0] = np.nan
    residual = float(np.nansum(errors * w) / w.sum())
    cam_np = cam.detach()[0].numpy().astype(np.float64)
    return LandmarkFit(
        shape=shape.detach()[0].numpy().astype(np.float32),
        exp=exp.detach()[0].numpy().astype(np.float32),
        pose=pose.detach()[0].numpy().astype(np.float32),
        cam=np.array([math.exp(cam_np[0]), cam_np[1], cam_np[2]], np.float32),
        crop=crop.astype(np.float32),
        points=points.astype(np.float32),
        errors_px=errors.astype(np.float32),
        residual_px=residual,
    )


def opt_params_zero_grad(*tensors: torch.Tensor) -> None:
    for t in tensors:
        if t.grad is not None:
            t.grad = None


def head_angles_deg(pose: np.ndarray) -> tuple[float, float, float]:
    """(6,) pose -> head (pitch, yaw, roll) in degrees (x, y, z Euler of the global rotation)."""
    r = axis_angle_to_matrix(torch.as_tensor(pose[:3], dtype=torch.float64)).numpy()
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, r[0, 2]))))
    pitch = math.degrees(math.atan2(-r[1, 2], r[2, 2]))
    roll = math.degrees(math.atan2(-r[0, 1], r[0, 0]))
    return pitch, yaw, roll
