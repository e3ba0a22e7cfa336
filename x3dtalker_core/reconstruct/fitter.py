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

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import X3DError
from ..flame.lbs import linear_blend_skinning, skinning_transforms
from ..rotation import axis_angle_to_euler, axis_angle_to_matrix

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
        # Built without in-place writes so torch.func (jacfwd/vmap) can differentiate through it.
        rest = pose.new_zeros(batch, 3)
        per_joint = [pose[:, :3], rest, pose[:, 3:6]] + [rest] * (joints.shape[1] - 3)
        rotvecs = torch.stack(per_joint, dim=1)
        rotations = axis_angle_to_matrix(rotvecs)
        eye = torch.eye(3, dtype=pose.dtype)
        pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)
        v_posed = v_shaped + (pose_feature @ self.pose_dirs).view(batch, -1, 3)
        verts = linear_blend_skinning(v_posed, skinning_transforms(rotations, joints, self.parents), self.lbs_weights)
        return self.select @ verts


@dataclass(frozen=True)
class FitSettings:
    """Solver and prior settings of the landmark fitter.

    Attributes:
        rigid_iters: Levenberg-Marquardt iterations for camera + head pose (per yaw start).
        full_iters: Levenberg-Marquardt iterations for everything.
        yaw_starts: initial head yaws tried in the rigid stage (radians); the best is kept
            (under an orthographic camera a turned head is easy to trap in a mirrored minimum).
        shape_prior, exp_prior: weights of ``|β|²`` and ``|ψ|²`` against the mean squared residual
            in 224-crop pixels (FLAME coefficients are unit-variance, so these are 1/σ² in px²).
        jaw_prior: weight of the jaw's sideways/twist rotation (its y and z axis-angle, radians²).
        fit_shape: also fit identity (off when the identity is given, e.g. video frames).
    """

    rigid_iters: int = 15
    full_iters: int = 30
    yaw_starts: tuple[float, ...] = (0.0, -0.7, 0.7)
    shape_prior: float = 0.01
    exp_prior: float = 0.01
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

    EMOCA's test loader boxes a face from its 68 iBUG landmarks (FAN's ``kpt68`` box), so give it
    (68, 2) points such as :attr:`~.detector.FaceMesh.ibug68`: the points' bounding box, its mean side
    x 1.1, times ``scale`` and truncated to whole pixels, centred on the box centre.
    """
    pts = np.asarray(points, np.float64)[:, :2]
    lo, hi = pts.min(0), pts.max(0)
    size = float(int(((hi - lo).sum() / 2.0) * 1.1 * scale))
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


def _jacobian(residuals, x: torch.Tensor, affine: torch.Tensor, step: float = 1e-6) -> torch.Tensor:
    """(R, P) Jacobian of batched ``residuals`` ((B, P) -> (B, R)) at ``x`` (P,), in one forward pass.

    Columns flagged ``affine`` (parameters the residuals are affine in while the others are held:
    shape and expression coefficients, for a fixed pose and camera) are exact unit differences; the
    few others (camera, rotations) are central differences, accurate to ~1e-9 in float64. One
    batched pass of ~170 small heads is far cheaper than autodiff's per-column work here.
    """
    p = x.numel()
    lin = torch.nonzero(affine).squeeze(1)
    nonlin = torch.nonzero(~affine).squeeze(1)
    n_lin, n_non = lin.numel(), nonlin.numel()
    batch = x.expand(1 + n_lin + 2 * n_non, -1).clone()
    batch[1 + torch.arange(n_lin), lin] += 1.0
    batch[1 + n_lin + torch.arange(n_non), nonlin] += step
    batch[1 + n_lin + n_non + torch.arange(n_non), nonlin] -= step
    with torch.no_grad():
        out = residuals(batch)
    jac = x.new_zeros(out.shape[1], p)
    jac[:, lin] = (out[1 : 1 + n_lin] - out[0]).T
    jac[:, nonlin] = ((out[1 + n_lin : 1 + n_lin + n_non] - out[1 + n_lin + n_non :]) / (2.0 * step)).T
    return jac


def _levenberg_marquardt(residuals, theta: torch.Tensor, free: torch.Tensor, affine: torch.Tensor, iters: int) -> torch.Tensor:
    """Minimise ``|residuals(theta)|²`` over the entries of ``theta`` where ``free`` is True.

    Gauss-Newton steps damped by ``mu * diag(JᵀJ)`` (Marquardt scaling): the coefficients have very
    different sensitivities (a radian of head rotation vs. one expression unit), which is what makes
    first-order optimisers crawl here.
    """
    idx = torch.nonzero(free).squeeze(1)

    def sub_residuals(xb: torch.Tensor) -> torch.Tensor:  # (B, P_free) -> (B, R)
        full = theta.expand(xb.shape[0], -1).clone()
        full[:, idx] = xb
        return residuals(full)

    x = theta[idx].clone()
    with torch.no_grad():
        r = sub_residuals(x[None])[0]
    cost = float(r @ r)
    mu = 1e-3
    for _ in range(iters):
        jac = _jacobian(sub_residuals, x, affine[idx])
        jtj = jac.T @ jac
        grad = jac.T @ r
        diag = torch.diagonal(jtj).clamp_min(1e-9)
        improved = False
        for _ in range(8):
            step = torch.linalg.solve(jtj + mu * torch.diag(diag), -grad)
            with torch.no_grad():
                r_new = sub_residuals((x + step)[None])[0]
            cost_new = float(r_new @ r_new)
            if cost_new < cost:
                x, r = x + step, r_new
                relative = (cost - cost_new) / max(cost, 1e-12)
                cost = cost_new
                mu = max(mu / 3.0, 1e-7)
                improved = True
                break
            mu *= 4.0
        if not improved or relative < 1e-7:  # converged: < 0.00001 % cost change
            break
    out = theta.clone()
    out[idx] = x
    return out


@contextlib.contextmanager
def _single_thread():
    """Run torch single-threaded inside the block (restored after).

    The fit is ~170 tiny heads per step: intra-op threads only add synchronisation, and on a busy
    CPU (ComfyUI, other jobs) spinning worker threads made it ~10x slower in measurements.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    with _single_thread():
        return _fit_landmarks(head, targets, weights, crop, settings, init_shape)


def _fit_landmarks(head, targets, weights, crop, settings, init_shape) -> LandmarkFit:
    targets = np.asarray(targets, np.float64)
    n_pts = head.select.shape[0]
    if targets.shape != (n_pts, 2):
        raise X3DError(f"landmark targets must be ({n_pts}, 2), got {targets.shape}")
    w = np.ones(n_pts) if weights is None else np.asarray(weights, np.float64)
    used = w > 0
    if used.sum() < 6 or not np.all(np.isfinite(targets[used])):
        raise X3DError("need at least 6 finite landmark targets to fit FLAME")
    crop = emoca_crop(targets[used]) if crop is None else np.asarray(crop, np.float64)
    if crop[2] <= 1e-6:
        raise X3DError("landmarks span zero pixels; the face is too small or the points are degenerate")

    # float64: the problem is small, and sub-pixel convergence needs the precision.
    dtype = torch.float64
    head = head.to(dtype)
    n_shape, n_exp = head.n_shape, head.n_exp
    y = torch.as_tensor(to_ndc(np.where(used[:, None], targets, 0.0), crop), dtype=dtype)
    sqrt_w = torch.as_tensor(np.sqrt(w / w.sum()), dtype=dtype)[:, None]
    px = CROP_PIXELS / 2.0  # NDC -> 224-crop pixels
    shape_w = math.sqrt(settings.shape_prior) if settings.fit_shape else 0.0

    # theta = [log s, tx, ty | head rot (3) | jaw (3) | exp | shape]
    cam_sl, rot_sl, jaw_sl = slice(0, 3), slice(3, 6), slice(6, 9)
    exp_sl, shape_sl = slice(9, 9 + n_exp), slice(9 + n_exp, 9 + n_exp + n_shape)

    def residuals(theta: torch.Tensor) -> torch.Tensor:
        """(B, P) -> (B, R): weighted pixel residuals, then the prior terms."""
        pts = head(theta[:, shape_sl], theta[:, exp_sl], theta[:, rot_sl.start : jaw_sl.stop])
        proj = torch.exp(theta[:, :1, None]) * (pts[..., :2] + theta[:, None, 1:3])
        data = ((proj - y) * px * sqrt_w).flatten(1)
        priors = [
            theta[:, exp_sl] * math.sqrt(settings.exp_prior),
            theta[:, jaw_sl][:, 1:] * math.sqrt(settings.jaw_prior),
            theta[:, shape_sl] * shape_w,
        ]
        return torch.cat([data] + priors, dim=1)

    theta0 = torch.zeros(9 + n_exp + n_shape, dtype=dtype)
    if init_shape is not None:
        k = min(len(init_shape), n_shape)
        theta0[shape_sl.start : shape_sl.start + k] = torch.as_tensor(init_shape[:k], dtype=dtype)

    # Camera start: the scale and offset that best match the neutral head's landmarks.
    with torch.no_grad():
        neutral = head(theta0[shape_sl][None], theta0[exp_sl][None], torch.zeros(1, 6, dtype=dtype))[0, :, :2]
    xm, ym = neutral.numpy()[used], y.numpy()[used]
    s0 = math.sqrt(((ym - ym.mean(0)) ** 2).sum() / max(((xm - xm.mean(0)) ** 2).sum(), 1e-12))
    t0 = ym.mean(0) / s0 - xm.mean(0)
    theta0[cam_sl] = torch.as_tensor([math.log(s0), t0[0], t0[1]], dtype=dtype)

    rigid = torch.zeros_like(theta0, dtype=torch.bool)
    rigid[: rot_sl.stop] = True
    affine = torch.zeros_like(theta0, dtype=torch.bool)
    affine[exp_sl] = True
    affine[shape_sl] = True
    best = None
    for yaw in settings.yaw_starts:
        start = theta0.clone()
        start[rot_sl.start + 1] = yaw
        theta = _levenberg_marquardt(residuals, start, rigid, affine, settings.rigid_iters)
        with torch.no_grad():
            r = residuals(theta[None])[0]
        cost = float(r @ r)
        if best is None or cost < best[0]:
            best = (cost, theta)

    free = torch.ones_like(theta0, dtype=torch.bool)
    if not settings.fit_shape:
        free[shape_sl] = False
    theta = _levenberg_marquardt(residuals, best[1], free, affine, settings.full_iters)

    with torch.no_grad():
        pts = head(theta[shape_sl][None], theta[exp_sl][None], theta[rot_sl.start : jaw_sl.stop][None])[0]
        ndc = (torch.exp(theta[0]) * (pts[:, :2] + theta[1:3])).numpy()
    points = from_ndc(ndc, crop)
    errors = np.linalg.norm(points - targets, axis=1)
    errors[~used] = np.nan
    residual = float(np.nansum(errors * w) / w.sum())
    t = theta.numpy()
    return LandmarkFit(
        shape=t[shape_sl].astype(np.float32),
        exp=t[exp_sl].astype(np.float32),
        pose=t[rot_sl.start : jaw_sl.stop].astype(np.float32),
        cam=np.array([math.exp(t[0]), t[1], t[2]], np.float32),
        crop=crop.astype(np.float32),
        points=points.astype(np.float32),
        errors_px=errors.astype(np.float32),
        residual_px=residual,
    )


def head_angles_deg(pose: np.ndarray) -> tuple[float, float, float]:
    """(6,) pose -> head (pitch, yaw, roll) in degrees of the global rotation (:mod:`x3dtalker_core.rotation`)."""
    pitch, yaw, roll = np.degrees(axis_angle_to_euler(np.asarray(pose, np.float64)[:3]))
    return float(pitch), float(yaw), float(roll)
