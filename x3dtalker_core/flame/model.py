"""The FLAME forward pass as a batched, device/dtype-agnostic ``torch.nn.Module``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..assets import find_asset, try_find_asset
from ..errors import X3DError, check_cancelled
from ..rotation import axis_angle_to_matrix
from .data import N_SHAPE_DIRS, FlameData, load_flame_data
from .landmarks import (
    Deca68Embedding,
    LandmarkEmbedding,
    load_deca68_embedding,
    load_mediapipe_embedding,
    surface_points,
)
from .lbs import linear_blend_skinning, skinning_transforms

POSE_LAYOUTS = {6: "global + jaw (EMOCA)", 15: "global, neck, jaw, eye L, eye R"}


class FlameModel(nn.Module):
    """FLAME: shape, expression and pose coefficients -> mesh vertices.

    ``forward`` takes any leading batch size B and returns (B, V, 3) vertices in metres (+x the
    subject's left, +y up, the face looks along +z). Fewer coefficients than the model has are
    zero-padded, so the 100 shape / 50 expression of the 284 layout work as they are.

    Buffers follow the module's ``.to(device, dtype)``; faces stay int64.
    """

    faces: torch.Tensor

    def __init__(
        self,
        data: FlameData,
        n_shape: int = N_SHAPE_DIRS,
        n_exp: int = 100,
        deca68: Deca68Embedding | None = None,
        mediapipe: LandmarkEmbedding | None = None,
    ) -> None:
        super().__init__()
        self.source = data.source
        self.sha256 = data.sha256
        self.is_dev_model = data.is_dev_model
        self.expression_names = data.expression_names
        self.n_shape = min(n_shape, data.num_shape)
        self.n_exp = min(n_exp, data.num_expression)
        n_verts, n_joints = data.num_vertices, data.num_joints
        self.num_vertices = n_verts
        self.parents = [int(p) for p in data.parents]

        f32 = torch.float32
        self.register_buffer("v_template", torch.as_tensor(data.v_template, dtype=f32))
        self.register_buffer("faces", torch.as_tensor(data.faces, dtype=torch.long))
        # (3V, K) so that a blend is one matmul with the coefficient rows.
        dirs = data.shapedirs.reshape(n_verts * 3, -1)
        self.register_buffer("shape_dirs", torch.as_tensor(dirs[:, : self.n_shape], dtype=f32))
        self.register_buffer(
            "exp_dirs", torch.as_tensor(dirs[:, N_SHAPE_DIRS : N_SHAPE_DIRS + self.n_exp], dtype=f32)
        )
        # Official posedirs is (V, 3, P); the corrective for pose feature p is posedirs[:, :, p].
        self.register_buffer("pose_dirs", torch.as_tensor(data.posedirs.reshape(n_verts * 3, -1).T.copy(), dtype=f32))
        self.register_buffer("J_regressor", torch.as_tensor(data.J_regressor, dtype=f32))
        self.register_buffer("lbs_weights", torch.as_tensor(data.weights, dtype=f32))
        self.num_joints = n_joints

        self.deca68 = deca68
        self.mediapipe = mediapipe
        for emb in (deca68.full if deca68 else None, deca68.static if deca68 else None, mediapipe):
            if emb is not None:
                emb.validate(data.faces.shape[0], emb.name)
        if deca68 is not None:
            self.register_buffer("lmk68_faces", torch.as_tensor(deca68.full.face_idx))
            self.register_buffer("lmk68_bary", torch.as_tensor(deca68.full.bary, dtype=f32))
        if mediapipe is not None:
            self.register_buffer("lmk_mp_faces", torch.as_tensor(mediapipe.face_idx))
            self.register_buffer("lmk_mp_bary", torch.as_tensor(mediapipe.bary, dtype=f32))

    # ------------------------------------------------------------------------------------
    def _coefficients(self, x: torch.Tensor | None, width: int, name: str, batch: int) -> torch.Tensor | None:
        if x is None:
            return None
        if x.dim() != 2 or x.shape[0] != batch:
            raise X3DError(f"{name} must be (B, n) with B = {batch}, got {tuple(x.shape)}")
        if x.shape[1] > width:
            raise X3DError(f"{name} has {x.shape[1]} coefficients; this FLAME model has {width}")
        return x

    def full_pose(self, pose: torch.Tensor) -> torch.Tensor:
        """(B, 6) global+jaw or (B, 15) full pose -> (B, J, 3) per-joint axis-angle."""
        batch = pose.shape[0]
        if pose.shape[-1] == 3 * self.num_joints:
            return pose.reshape(batch, self.num_joints, 3)
        if pose.shape[-1] == 6 and self.num_joints == 5:
            full = pose.new_zeros(batch, 5, 3)
            full[:, 0] = pose[:, :3]
            full[:, 2] = pose[:, 3:]
            return full
        raise X3DError(f"pose must be (B, 6) [global, jaw] or (B, {3 * self.num_joints}), got {tuple(pose.shape)}")

    def forward(
        self,
        shape: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        pose: torch.Tensor | None = None,
        neck: torch.Tensor | None = None,
        eyes: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B, V, 3) vertices of B heads; arguments as in :meth:`forward_with_transforms`."""
        return self.forward_with_transforms(shape, expression, pose, neck, eyes, translation)[0]

    def forward_with_transforms(
        self,
        shape: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        pose: torch.Tensor | None = None,
        neck: torch.Tensor | None = None,
        eyes: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Vertices of B heads and the joint transforms that posed them.

        Args:
            shape: (B, <=n_shape) identity coefficients.
            expression: (B, <=n_exp) expression coefficients.
            pose: (B, 6) [global, jaw] or (B, 15) [global, neck, jaw, eyeL, eyeR] axis-angle.
            neck: (B, 3) neck rotation, overriding the pose's (6-layout poses have it at rest).
            eyes: (B, 6) left then right eye rotations, overriding the pose's.
            translation: (B, 3) added to every vertex.

        Returns:
            vertices (B, V, 3), and transforms (B, J, 3, 4) ``[R | t]`` per joint with the translation
            folded in: :func:`.lbs.linear_blend_skinning` of any rest-pose point (shaped, unposed) with
            its own skinning weights moves it with the head (a mouth proxy, an accessory).
        """
        given = [t for t in (shape, expression, pose, neck, eyes, translation) if t is not None]
        batch = given[0].shape[0] if given else 1
        ref = self.v_template
        shape = self._coefficients(shape, self.n_shape, "shape", batch)
        expression = self._coefficients(expression, self.n_exp, "expression", batch)

        offsets = ref.new_zeros(batch, ref.numel())
        if shape is not None and shape.shape[1]:
            offsets = offsets + shape.to(ref.dtype) @ self.shape_dirs[:, : shape.shape[1]].T
        if expression is not None and expression.shape[1]:
            offsets = offsets + expression.to(ref.dtype) @ self.exp_dirs[:, : expression.shape[1]].T
        v_shaped = ref.unsqueeze(0) + offsets.view(batch, -1, 3)
        joints = torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)

        if pose is None:
            rotvecs = ref.new_zeros(batch, self.num_joints, 3)
        else:
            if pose.dim() != 2 or pose.shape[0] != batch:
                raise X3DError(f"pose must be (B, 6) or (B, 15) with B = {batch}, got {tuple(pose.shape)}")
            rotvecs = self.full_pose(pose.to(ref.dtype))
        if neck is not None or eyes is not None:
            rotvecs = rotvecs.clone()
            if neck is not None:
                rotvecs[:, 1] = neck.to(ref.dtype)
            if eyes is not None:
                rotvecs[:, 3:5] = eyes.to(ref.dtype).reshape(batch, 2, 3)
        rotations = axis_angle_to_matrix(rotvecs)  # (B, J, 3, 3)

        eye = torch.eye(3, dtype=ref.dtype, device=ref.device)
        pose_feature = (rotations[:, 1:] - eye).reshape(batch, -1)
        v_posed = v_shaped + (pose_feature @ self.pose_dirs).view(batch, -1, 3)

        transforms = skinning_transforms(rotations, joints, self.parents)
        if translation is not None:  # skinning weights sum to 1: moving every joint moves every vertex
            shift = torch.zeros_like(transforms)
            shift[..., 3] = translation.to(ref.dtype).unsqueeze(1)
            transforms = transforms + shift
        vertices = linear_blend_skinning(v_posed, transforms, self.lbs_weights)
        return vertices, transforms

    # ------------------------------------------------------------------------------------
    def landmarks68(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) -> (B, 68, 3) DECA landmarks (static contour)."""
        if self.deca68 is None:
            raise X3DError("no DECA 68-point landmark embedding was loaded (asset 'landmark_embedding')")
        return surface_points(vertices, self.faces, self.lmk68_faces, self.lmk68_bary)

    def landmarks_mediapipe(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) -> (B, 105, 3) points matching MediaPipe face-mesh ``mediapipe.landmark_indices``."""
        if self.mediapipe is None:
            raise X3DError("no MediaPipe landmark embedding was loaded (asset 'mediapipe_embedding')")
        return surface_points(vertices, self.faces, self.lmk_mp_faces, self.lmk_mp_bary)

    def extra_repr(self) -> str:
        dev = ", development head" if self.is_dev_model else ""
        return f"vertices={self.num_vertices}, n_shape={self.n_shape}, n_exp={self.n_exp}, source={self.source}{dev}"


def load_flame_model(
    path: str | Path | None = None,
    n_shape: int = N_SHAPE_DIRS,
    n_exp: int = 100,
    landmarks: bool = True,
    deca68_path: str | Path | None = None,
    mediapipe_path: str | Path | None = None,
) -> FlameModel:
    """Load a FLAME model with its landmark embeddings.

    Args:
        path: model file; None resolves the ``flame_model`` asset.
        n_shape, n_exp: how many identity/expression directions to keep (memory; inputs may be shorter).
        landmarks: also load the DECA 68 and MediaPipe embeddings when they are found (or given).
    """
    data = load_flame_data(path if path is not None else find_asset("flame_model"))
    deca68 = mediapipe = None
    if landmarks:
        p = deca68_path or try_find_asset("landmark_embedding")
        deca68 = load_deca68_embedding(p) if p else None
        p = mediapipe_path or try_find_asset("mediapipe_embedding")
        mediapipe = load_mediapipe_embedding(p) if p else None
    return FlameModel(data, n_shape=n_shape, n_exp=n_exp, deca68=deca68, mediapipe=mediapipe)


def vertices_for_sequence(
    model: FlameModel,
    params: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], object] | None = None,
) -> np.ndarray:
    """Decode (T, 284) parameters to (T, V, 3) float32 vertices, in batches.

    ``progress(done, total)`` is called after each batch; ``cancel()`` before each one (True, or an
    exception of its own, stops the decode).
    """
    from ..params import EXP, POSE, SHAPE

    device = torch.device(device) if device is not None else model.v_template.device
    total = params.shape[0]
    out = np.empty((total, model.num_vertices, 3), np.float32)
    with torch.no_grad():
        for start in range(0, total, batch_size):
            check_cancelled(cancel, "decoding the FLAME meshes")
            chunk = torch.as_tensor(params[start : start + batch_size], dtype=torch.float32, device=device)
            verts = model(shape=chunk[:, SHAPE], expression=chunk[:, EXP], pose=chunk[:, POSE])
            out[start : start + chunk.shape[0]] = verts.cpu().numpy()
            if progress is not None:
                progress(start + chunk.shape[0], total)
    return out
