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
from ...x3dtalker_core.export.rig_glb import GLB_MODES  # noqa: F401,E402 (the GLB node's mode menu)
WAN_MODELS = ("14b", "5b")


@dataclass(frozen=True)
class RenderedVideos:
    """The mp4 files one Render wrote (audio muxed when given), by output name, and their frame rate."""

    files: dict[str, Path]
    fps: float
    frames: int
    width: int
    height: int
    camera: str


@dataclass(frozen=True)
class WanControlClip:
    """One Wan window as IMAGE batches (T, H, W, 3) float 0..1 and MASK (T, H, W), with its audio segment."""

    depth: torch.Tensor
    shaded: torch.Tensor
    mask: torch.Tensor
    fps: float
    audio: dict | None
    motion_frames: int
    window: int
    windows: int
    start_s: float

    @property
    def num_frames(self) -> int:
        return int(self.mask.shape[0])

    @property
    def width(self) -> int:
        return int(self.mask.shape[2])

    @property
    def height(self) -> int:
        return int(self.mask.shape[1])


VIDEO_FILES = {"preview": "preview.mp4", "depth": "depth.mp4", "normals": "normals.mp4", "mask": "mask.mp4"}


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


def render_videos(
    sequence: FlameSequence,
    flame_model,
    folder: Path,
    width: int = 512,
    height: int = 512,
    camera: str = "auto",
    background: str = "#1a1a1a",
    normals: bool = False,
    mask: bool = False,
    audio: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> RenderedVideos:
    """Shaded preview and depth (near = bright, one range per clip) as mp4 files in ``folder``, plus
    normals and the face mask when asked, with ``audio`` muxed. Frames are encoded as they are
    rendered, so memory does not grow with the clip; nothing switched off is rendered.

    ``auto`` frames the reference photo when the sequence came from one, else its fitted camera, else static.
    """
    from ...x3dtalker_core.render.files import RenderSettings, render_to_files

    if flame_model is None:
        raise X3DError("connect a Load FLAME Model node")
    settings = RenderSettings(width=int(width), height=int(height), camera=camera, background=parse_colour(background),
                              normals=bool(normals), mask=bool(mask), glb=False)
    samples = mono_16k(audio)
    report = render_to_files(sequence, folder, settings, audio=samples, show_progress=False, progress=progress,
                             should_stop=cancel, flame_model=flame_model)
    written = {Path(p).name: Path(p) for p in report["files"]}
    files = {name: written[file] for name, file in VIDEO_FILES.items() if file in written}
    return RenderedVideos(files, float(report["fps"]), int(report["frames"]), int(report["width"]),
                          int(report["height"]), str(report["camera"]))


def wan_length_warning(length: int) -> str | None:
    """A note when ``length`` is far beyond the 81 frames Wan 2.2 Fun-Control was trained on."""
    from ...x3dtalker_core.render.wan import WAN_TRAINED_FRAMES

    if int(length) > 1.5 * WAN_TRAINED_FRAMES:
        return (f"length {length} is far beyond the {WAN_TRAINED_FRAMES} frames Wan 2.2 Fun-Control was trained on; "
                f"quality drops on long single windows: keep length {WAN_TRAINED_FRAMES} and render window 0, 1, 2, ... "
                "(each with its own audio segment) instead")
    return None


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
    window: int = 0,
    background: str = "#1a1a1a",
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> WanControlClip:
    """Window ``window`` of the depth control video for Wan 2.2 Fun-Control.

    The motion is resampled to the model's fps (14B 16, 5B 24) and cut into back-to-back windows of
    ``length`` frames (snapped to 4n+1; Wan was trained on 81); the last window is padded by holding the
    last pose, or trimmed to the 4n+1 frames that carry motion. The size is snapped to the model's
    multiple (14B 16, 5B 32) and the driving audio cut to exactly the window's stretch. Camera and depth
    range are the whole clip's (:func:`~x3dtalker_core.render.files.render_window`), so windows join without
    jumps; only the window's frames are rendered and held in memory.
    """
    from ...x3dtalker_core.render.files import RenderSettings, render_window
    from ...x3dtalker_core.render.wan import get_wan_preset, plan_wan_window

    if flame_model is None:
        raise X3DError("connect a Load FLAME Model node")
    preset = get_wan_preset(model)
    win = plan_wan_window(sequence.num_frames, sequence.fps, preset, int(length), int(window),
                          "trim" if trim else "pad")
    settings = RenderSettings(width=int(width), height=int(height), camera=camera, background=parse_colour(background),
                              wan=preset.name, wan_length=1)
    rendered = render_window(sequence, win.start, win.length, settings, audio=mono_16k(audio),
                             outputs=("depth", "shaded"), flame_model=flame_model, progress=progress,
                             should_stop=cancel)
    frames = rendered.frames

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    wav = audio_dict(rendered.audio) if rendered.audio is not None else None
    return WanControlClip(tensor(frames.depth), tensor(frames.shaded), tensor(frames.mask), float(rendered.fps), wav,
                          win.motion_frames, win.index, win.count, win.start_s)


def export_glb_file(sequence: FlameSequence, flame_model, path: Path, mode: str = "rigged",
                    progress: Callable[[int, int], None] | None = None,
                    cancel: Callable[[], bool] | None = None) -> Path:
    """Animated GLB of the sequence (``rigged`` or ``exact``), for core Preview3D / Preview3DAnimation."""
    from ...x3dtalker_core.export.rig_glb import export_sequence_glb

    if flame_model is None:
        raise X3DError("connect a Load FLAME Model node")
    return export_sequence_glb(path, sequence, flame_model, mode, progress=progress, cancel=cancel)


def save_params_file(sequence: FlameSequence, path: Path) -> Path:
    """The sequence as ``.npz`` (T x 284 + cam + fps + metadata; dataset groups included)."""
    return sequence.save(path)


def motion_curves(sequence: FlameSequence, max_points: int = 400) -> dict:
    """Jaw opening and head pitch/yaw/roll in degrees over time (for the web curve view), decimated."""
    from ...x3dtalker_core.rotation import axis_angle_to_euler

    t = sequence.num_frames
    idx = np.unique(np.linspace(0, t - 1, min(t, max_points)).round().astype(int))
    euler = np.degrees(axis_angle_to_euler(sequence.head_pose))  # (T, 3) pitch, yaw, roll
    jaw = np.degrees(np.linalg.norm(sequence.jaw_pose.astype(np.float64), axis=1))
    return {
        "fps": float(sequence.fps), "frames": int(t), "time": (idx / sequence.fps).round(3).tolist(),
        "series": {"jaw": jaw[idx].round(2).tolist(), "pitch": euler[idx, 0].round(2).tolist(),
                   "yaw": euler[idx, 1].round(2).tolist(), "roll": euler[idx, 2].round(2).tolist()},
    }
