"""Rotations: axis-angle <-> matrix <-> head Euler angles, the one place the library converts them.

Conventions (FLAME's axes: +x the subject's left, +y up, the face looks along +z):

* axis-angle: (..., 3) radians, FLAME's pose parameters;
* head Euler angles: (..., 3) ``pitch, yaw, roll`` radians with ``R = Ry(yaw) · Rx(pitch) · Rz(roll)``
  (intrinsic Y-X-Z: turn, then nod, then tilt). Right-handed about each axis: positive pitch looks
  down, positive yaw looks toward the subject's left, positive roll lifts the subject's left side.
  Head-pose controls, motion curves and the photo fit all report these three numbers.

:func:`axis_angle_to_matrix` takes torch tensors (batched, any device/dtype, differentiable, exact
identity at zero) or numpy arrays; the rest work on numpy arrays through SciPy's ``Rotation``.
"""

from __future__ import annotations

import numpy as np

EULER_ORDER = "YXZ"
"""SciPy's name of the head Euler convention (upper case: intrinsic), angles given as yaw, pitch, roll."""


def axis_angle_to_matrix(rotvec):
    """Rodrigues' formula: (..., 3) axis-angle -> (..., 3, 3) rotation matrices (torch or numpy in, same out).

    Written as ``I + a(θ) K + b(θ) K²`` with ``K`` the cross-product matrix of the *unnormalised*
    vector, so the zero rotation gives the identity exactly and gradients are finite at θ = 0
    (small angles use the Taylor series of ``a`` and ``b``).
    """
    import torch

    if not isinstance(rotvec, torch.Tensor):
        return axis_angle_to_matrix(torch.as_tensor(np.asarray(rotvec, np.float64))).numpy()
    theta2 = (rotvec * rotvec).sum(-1, keepdim=True)
    small = theta2 < 1e-8
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta = theta2_safe.sqrt()
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2_safe)
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*rotvec.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(k)
    return eye + a[..., None] * k + b[..., None] * (k @ k)


def matrix_to_axis_angle(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle (angle in [0, π]), float64."""
    from scipy.spatial.transform import Rotation

    m = np.asarray(matrix, np.float64)
    return Rotation.from_matrix(m.reshape(-1, 3, 3)).as_rotvec().reshape(*m.shape[:-2], 3)


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) pitch, yaw, roll radians -> (..., 3, 3) ``Ry(yaw) · Rx(pitch) · Rz(roll)``, float64."""
    from scipy.spatial.transform import Rotation

    a = np.asarray(angles, np.float64)
    flat = a.reshape(-1, 3)[:, [1, 0, 2]]  # yaw, pitch, roll: SciPy's order for "YXZ"
    return Rotation.from_euler(EULER_ORDER, flat).as_matrix().reshape(*a.shape[:-1], 3, 3)


def matrix_to_euler(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) pitch, yaw, roll radians (inverse of :func:`euler_to_matrix`).

    Pitch is in [-π/2, π/2]; yaw and roll in (-π, π].
    """
    from scipy.spatial.transform import Rotation

    m = np.asarray(matrix, np.float64)
    ypr = Rotation.from_matrix(m.reshape(-1, 3, 3)).as_euler(EULER_ORDER)
    return ypr[:, [1, 0, 2]].reshape(*m.shape[:-2], 3)


def axis_angle_to_euler(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3) pitch, yaw, roll radians."""
    return matrix_to_euler(axis_angle_to_matrix(np.asarray(rotvec, np.float64)))


def euler_to_axis_angle(angles: np.ndarray) -> np.ndarray:
    """(..., 3) pitch, yaw, roll radians -> (..., 3) axis-angle."""
    return matrix_to_axis_angle(euler_to_matrix(angles))
