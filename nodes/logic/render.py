"""Rendering a FLAME sequence to ComfyUI IMAGE batches, the Wan 2.2 Fun-Control hand-off, and exports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ...x3dtalker_core import SAMPLE_RATE
from ...x3dtalker_core.errors import X3DError
from ...x3dtalker_core.params import FlameSequence
from .audio import audio_dict, mono_16k

from ...x3dtalker_core.render.files import CAMERA_CHOICES as CAMERAS  # noqa: F401 (the nodes' camera menu)
WAN_MODELS = ("14b", "5b")


@dataclass(frozen=True)
class RenderedClip:
    """IMAGE batches (T, H, W, 3) float 0..1, MASK (T, H, W), the clip's fps and (optional) audio."""

    depth: torch.Tensor
    shaded: torch.Tensor
    normals: torch.Tensor
    mask: torch.Tensor
    fps: float
    audio: dict | None = None
    motion_frames: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[2])

    @property
    def height(self) -> int:
        return int(self.mask.shape[1])


def _draw(vertices, faces, camera, width, height, background, normals, progress, cancel):
    from ...x3dtalker_core.render import measure_depth_range, render_sequence

    depth_range = measure_depth_range(vertices, faces, camera, width, height)
    outputs = ("depth", "shaded") + (("normals",) if normals else ())
    frames = render_sequence(vertices, faces, camera, width, height, outputs=outputs, depth_range=depth_range,
                             background=tuple(background), progress=progress, should_stop=cancel)

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    t = frames.num_frames
    empty = torch.zeros((t, height, width, 3))
    return (tensor(frames.depth), tensor(frames.shaded),
            tensor(frames.normals) if frames.normals is not None else empty, tensor(frames.mask))


def decode(sequence: FlameSequence, flame_model, progress=None) -> tuple[np.ndarray, np.ndarray]:
    from ...x3dtalker_core.render import flame_vertices

    if flame_model is None:
        raise X3DError("connect a Load FLAME Model node")
    return flame_vertices(sequence, model=flame_model, progress=progress)


def parse_colour(text: str) -> tuple[float, float, float]:
    """``"#1a1a1a"`` or ``"0.1, 0.1, 0.1"`` -> RGB in [0, 1]."""
    s = str(text).strip()
    try:
        if s.startswith("#") and len(s) == 7:
            return tuple(int(s[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
        parts = [float(p) for p in s.replace(";", ",").split(",")]
        if len(parts) == 3 and all(0.0 <= p <= 1.0 for p in parts):
            return tuple(parts)
    except ValueError:
        pass
    raise X3DError(f"background colour '{text}' must be '#rrggbb' or three numbers in [0, 1] like '0.1, 0.1, 0.1'")


def render_clip(
    sequence: FlameSequence,
    flame_model,
    width: int = 512,
    height: int = 512,
    camera: str = "auto",
    background: str = "#1a1a1a",
    normals: bool = False,
    fov_deg: float = 20.0,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RenderedClip:
    """Depth (near = bright, per-clip range), shaded preview, normals and mask at the sequence's fps.

    ``auto`` frames the reference photo when the sequence came from one, else its fitted camera, else static.
    """
    from ...x3dtalker_core.render.files import photo_framing, select_camera

    verts, faces = decode(sequence, flame_model)
    _, cam = select_camera(camera, verts, sequence.cam, sequence.fps, width, height, photo_framing(sequence), fov_deg)
    depth, shaded, nrm, mask = _draw(verts, faces, cam, width, height, parse_colour(background), normals,
                                     progress, cancel)
    return RenderedClip(depth, shaded, nrm, mask, float(sequence.fps), motion_frames=sequence.num_frames)


def render_for_wan(
    sequence: FlameSequence,
    flame_model,
    model: str = "14b",
    width: int = 640,
    height: int = 640,
    length: int = 81,
    camera: str = "auto",
    audio: dict | None = None,
    trim: bool = False,
    background: str = "#1a1a1a",
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RenderedClip:
    """Depth control video for Wan 2.2 Fun-Control: the model's fps (14B 16, 5B 24), 4n+1 frames
    (at least ``length``, padded by holding the last pose; or trimmed), size snapped to its multiple
    (14B 16, 5B 32), and the driving audio cut to exactly the clip's duration.
    """
    from ...x3dtalker_core.render.wan import fit_frame_count, get_wan_preset, prepare_for_wan, resample_frames, wan_size

    preset = get_wan_preset(model)
    width, height = wan_size(int(width), int(height), preset.multiple)
    verts, faces = decode(sequence, flame_model)
    samples = mono_16k(audio)
    clip = prepare_for_wan(verts, sequence.fps, preset, samples, SAMPLE_RATE, int(length), "trim" if trim else "pad")
    cam_values = sequence.cam
    if cam_values is not None:
        cam_values = fit_frame_count(resample_frames(cam_values, sequence.fps, preset.fps), clip.frames.shape[0])
    from ...x3dtalker_core.render.files import photo_framing, select_camera

    _, cam = select_camera(camera, clip.frames, cam_values, clip.fps, width, height, photo_framing(sequence))
    depth, shaded, nrm, mask = _draw(clip.frames, faces, cam, width, height, parse_colour(background), False,
                                     progress, cancel)
    wav = audio_dict(clip.audio) if clip.audio is not None else None
    return RenderedClip(depth, shaded, nrm, mask, float(clip.fps), wav, clip.source_frames)


def export_glb_file(sequence: FlameSequence, flame_model, path: Path) -> Path:
    """Animated GLB (morph targets) of the sequence, for core Preview3D / Preview3DAnimation."""
    from ...x3dtalker_core.render.export import export_glb

    verts, faces = decode(sequence, flame_model)
    return export_glb(path, verts, faces, sequence.fps)


def save_params_file(sequence: FlameSequence, path: Path) -> Path:
    """The sequence as ``.npz`` (T x 284 + cam + fps + metadata; dataset groups included)."""
    return sequence.save(path)


def motion_curves(sequence: FlameSequence, max_points: int = 400) -> dict:
    """Jaw opening and head pitch/yaw/roll in degrees over time (for the web curve view), decimated."""
    from scipy.spatial.transform import Rotation

    t = sequence.num_frames
    idx = np.unique(np.linspace(0, t - 1, min(t, max_points)).round().astype(int))
    # Same convention as control.pose (R = Ry(yaw) Rx(pitch) Rz(roll), FLAME axes).
    yaw, pitch, roll = Rotation.from_rotvec(sequence.head_pose.astype(np.float64)).as_euler("YXZ", degrees=True).T
    euler = np.stack([pitch, yaw, roll], axis=1)
    jaw = np.degrees(np.linalg.norm(sequence.jaw_pose.astype(np.float64), axis=1))
    return {
        "fps": float(sequence.fps), "frames": int(t), "time": (idx / sequence.fps).round(3).tolist(),
        "series": {"jaw": jaw[idx].round(2).tolist(), "pitch": euler[idx, 0].round(2).tolist(),
                   "yaw": euler[idx, 1].round(2).tolist(), "roll": euler[idx, 2].round(2).tolist()},
    }
