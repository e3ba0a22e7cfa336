"""Reference FLAME parameters: photo -> FLAME (with a fit overlay), or a parameter file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ...x3dtalker_core.errors import X3DError
from ...x3dtalker_core.params import FlameParams, FlameSequence

BACKENDS = ("landmarks", "emoca")


def first_image_uint8(image: torch.Tensor) -> np.ndarray:
    """ComfyUI IMAGE (B, H, W, C) float 0..1 -> the first frame as (H, W, 3) uint8 RGB."""
    arr = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[0] == 0 or arr.shape[-1] not in (1, 3, 4):
        raise X3DError(f"expected an IMAGE batch (B, H, W, 3), got shape {tuple(arr.shape)}")
    frame = arr[0, :, :, :3] if arr.shape[-1] != 1 else np.repeat(arr[0], 3, axis=-1)
    return np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class ReferenceFit:
    """A reconstructed reference: parameters, a check image (1, H, W, 3) float, fit confidence."""

    params: FlameParams
    overlay: torch.Tensor
    confidence: float
    summary: str


def image_to_flame(
    image: torch.Tensor,
    flame_model=None,
    backend: str = "landmarks",
    face_index: int = 0,
    emoca_path: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ReferenceFit:
    """Fit FLAME to the first image of the batch (the largest face unless ``face_index`` is set)."""
    from ...x3dtalker_core.flame import vertices_for_sequence
    from ...x3dtalker_core.reconstruct import EmocaReconstructor, LandmarkReconstructor, reconstruct_reference
    from ...x3dtalker_core.reconstruct.overlay import fit_overlay

    if backend not in BACKENDS:
        raise X3DError(f"unknown reconstruction backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    rgb = first_image_uint8(image)
    if backend == "landmarks":
        reconstructor = LandmarkReconstructor(flame_model=flame_model)
        model = reconstructor.model
    else:
        reconstructor = EmocaReconstructor(emoca_path or None)
        model = flame_model
    result = reconstruct_reference(rgb, backend=backend, face_index=face_index, progress=progress,
                                   reconstructor=reconstructor)
    overlay = rgb
    if model is not None and result.params.cam is not None and result.crop is not None:
        verts = vertices_for_sequence(model, result.params.to_vector()[None])[0]
        overlay = fit_overlay(rgb, verts, model.faces.cpu().numpy(), result.params.cam, result.crop,
                              result.target_points, result.fitted_points)
    pitch, yaw, roll = result.head_angles
    summary = (f"{backend}: {result.num_faces} face(s), confidence {result.confidence:.2f}, "
               f"head pitch/yaw/roll {pitch:.0f}/{yaw:.0f}/{roll:.0f} deg")
    if np.isfinite(result.residual_px):
        summary += f", landmark error {result.residual_px:.2f} px"
    return ReferenceFit(result.params, torch.from_numpy(overlay.astype(np.float32) / 255.0)[None],
                        float(result.confidence), summary)


def load_params(path: str, frame: int = 0) -> tuple[FlameParams, FlameSequence]:
    """A parameter ``.npz`` or a dataset sequence folder -> (its frame ``frame``, the whole sequence)."""
    from pathlib import Path

    from ...x3dtalker_core.reconstruct import load_reference_params

    text = str(path).strip().strip('"')
    if not text:
        raise X3DError("no parameter file given: set 'path' to a params.npz or a dataset sequence folder")
    p = Path(text).expanduser()
    reference = load_reference_params(p, frame)
    if p.is_dir():
        from ...x3dtalker_core.data.layout import read_sequence_dir

        sequence, _audio = read_sequence_dir(p)
    else:
        sequence = FlameSequence.load(p)
    return reference, sequence
