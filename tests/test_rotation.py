"""The one rotation module: axis-angle <-> matrix <-> head Euler angles (pitch, yaw, roll; R = Ry Rx Rz)."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from x3dtalker_core.rotation import (
    axis_angle_to_euler,
    axis_angle_to_matrix,
    euler_to_axis_angle,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_euler,
)


def test_axis_angle_matrix_round_trip_torch_and_numpy():
    rng = np.random.default_rng(0)
    v = rng.uniform(-1.5, 1.5, (4, 5, 3))
    m = axis_angle_to_matrix(v)
    assert isinstance(m, np.ndarray) and m.shape == (4, 5, 3, 3)
    np.testing.assert_allclose(m.reshape(-1, 3, 3), Rotation.from_rotvec(v.reshape(-1, 3)).as_matrix(), atol=1e-12)
    mt = axis_angle_to_matrix(torch.tensor(v, dtype=torch.float32))
    assert isinstance(mt, torch.Tensor) and mt.dtype == torch.float32
    np.testing.assert_allclose(mt.numpy(), m, atol=1e-5)
    np.testing.assert_allclose(matrix_to_axis_angle(m), v, atol=1e-9)
    assert torch.equal(axis_angle_to_matrix(torch.zeros(2, 3)), torch.eye(3).expand(2, 3, 3))


def test_euler_convention_is_yaw_then_pitch_then_roll():
    pitch, yaw, roll = 0.3, -0.5, 0.2
    rx = Rotation.from_rotvec([pitch, 0, 0]).as_matrix()
    ry = Rotation.from_rotvec([0, yaw, 0]).as_matrix()
    rz = Rotation.from_rotvec([0, 0, roll]).as_matrix()
    np.testing.assert_allclose(euler_to_matrix([pitch, yaw, roll]), ry @ rx @ rz, atol=1e-12)
    # positive yaw turns the gaze (+z) toward +x, the subject's left; positive pitch looks down (-y)
    assert euler_to_matrix([0, 0.3, 0])[0, 2] > 0 and euler_to_matrix([0.3, 0, 0])[1, 2] < 0


@pytest.mark.parametrize("angles", [[0.1, 0.2, 0.3], [-0.4, 1.2, -0.1], [1.0, -2.5, 2.9]])
def test_euler_round_trips(angles):
    a = np.array([angles, [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(matrix_to_euler(euler_to_matrix(a)), a, atol=1e-9)
    np.testing.assert_allclose(axis_angle_to_euler(euler_to_axis_angle(a)), a, atol=1e-9)
