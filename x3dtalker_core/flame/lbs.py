"""Linear blend skinning, batched and device/dtype-agnostic (rotations: :mod:`x3dtalker_core.rotation`)."""

from __future__ import annotations

import torch


def skinning_transforms(rotations: torch.Tensor, joints: torch.Tensor, parents: list[int]) -> torch.Tensor:
    """World transforms that move rest-pose points of each joint's part to the posed mesh.

    Args:
        rotations: (B, J, 3, 3) local joint rotations.
        joints: (B, J, 3) rest-pose joint locations.
        parents: J parent indices, ``parents[0] == -1``, parents before children.

    Returns:
        (B, J, 3, 4) affine transforms ``[R | t]``.

    Composed recursively as ``A_j = A_parent ∘ (x ↦ R_j (x - J_j) + J_j)`` so that zero pose gives
    the identity exactly (no ``J + (J_child - J)`` round-off).
    """
    local_t = joints - (rotations @ joints.unsqueeze(-1)).squeeze(-1)  # (B, J, 3)
    rot_world: list[torch.Tensor] = []
    t_world: list[torch.Tensor] = []
    for j, parent in enumerate(parents):
        r_j, t_j = rotations[:, j], local_t[:, j]
        if parent < 0:
            rot_world.append(r_j)
            t_world.append(t_j)
        else:
            r_p, t_p = rot_world[parent], t_world[parent]
            rot_world.append(r_p @ r_j)
            t_world.append((r_p @ t_j.unsqueeze(-1)).squeeze(-1) + t_p)
    return torch.cat([torch.stack(rot_world, 1), torch.stack(t_world, 1).unsqueeze(-1)], dim=-1)


def linear_blend_skinning(
    rest_vertices: torch.Tensor, transforms: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Blend per-joint transforms by skinning weights and apply them.

    Args:
        rest_vertices: (B, V, 3) shaped and pose-corrected vertices.
        transforms: (B, J, 3, 4) from :func:`skinning_transforms`.
        weights: (V, J) skinning weights.

    Returns:
        (B, V, 3) posed vertices.
    """
    batch, n_joints = transforms.shape[:2]
    blended = (weights @ transforms.reshape(batch, n_joints, 12)).view(batch, -1, 3, 4)  # (B, V, 3, 4)
    # An elementwise product-and-sum beats B*V tiny 3x3 matmuls by a wide margin on CPU.
    return (blended[..., :3] * rest_vertices.unsqueeze(-2)).sum(-1) + blended[..., 3]
