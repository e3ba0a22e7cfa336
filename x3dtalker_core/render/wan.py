"""Hand-off to Wan 2.2 Fun-Control: frame rate, size multiples and 4n+1 frame counts (SPEC §6).

``Wan22FunControlToVideo`` takes ``length = 4n + 1`` frames of ``control_video`` at width x height
(multiples of 16 for the 14B models, whose VAE downsamples by 8 with 2x2 patches; 32 for the 5B
model, VAE /16). A control video shorter than ``length`` leaves the tail unconditioned, so the clip
is padded by holding its last frame (or trimmed). The 14B templates play at 16 fps, the 5B at 24.

Motion is resampled *before* rendering (linear interpolation of vertices), so a 25 -> 16 fps clip
has no duplicated or dropped poses; audio is padded with silence or trimmed to the exact video
duration, so picture and sound stay in sync.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import X3DError
from .mesh import LazyFrames


@dataclass(frozen=True)
class WanPreset:
    """Constraints of one Wan 2.2 Fun-Control model family.

    Attributes:
        name: ``"14b"`` or ``"5b"``.
        multiple: width and height must be multiples of this.
        fps: frame rate the official template plays at.
        length: the template's default ``length`` (frames).
    """

    name: str
    multiple: int
    fps: float
    length: int


WAN_PRESETS: dict[str, WanPreset] = {
    "14b": WanPreset("14b", multiple=16, fps=16.0, length=81),
    "5b": WanPreset("5b", multiple=32, fps=24.0, length=121),
}


def get_wan_preset(name: str) -> WanPreset:
    try:
        return WAN_PRESETS[name.lower()]
    except KeyError:
        raise X3DError(f"unknown Wan preset {name!r}: use one of {', '.join(WAN_PRESETS)}") from None


def wan_size(width: int, height: int, multiple: int) -> tuple[int, int]:
    """(width, height) rounded to the nearest multiple of ``multiple`` (at least one multiple)."""
    def snap(x: int) -> int:
        return max(multiple, int(x / multiple + 0.5) * multiple)  # halves round up

    return snap(width), snap(height)


def wan_frame_count(num_frames: int, min_length: int = 1, mode: str = "pad") -> int:
    """The 4n+1 frame count for a clip of ``num_frames``.

    ``mode="pad"``: the smallest 4n+1 >= max(num_frames, min_length) (the tail holds the last frame).
    ``mode="trim"``: the largest 4n+1 <= num_frames; an error if that is shorter than ``min_length``.
    """
    if num_frames < 1:
        raise X3DError("a Wan clip needs at least one frame")
    if mode == "pad":
        target = max(num_frames, min_length)
        return 4 * ((target - 1 + 3) // 4) + 1
    if mode == "trim":
        count = 4 * ((num_frames - 1) // 4) + 1
        if count < min_length:
            raise X3DError(f"trimming {num_frames} frames to 4n+1 gives {count}, shorter than length {min_length}")
        return count
    raise X3DError(f"frame count mode must be 'pad' or 'trim', got {mode!r}")


def resampled_count(num_frames: int, src_fps: float, dst_fps: float) -> int:
    """Frames that cover the same duration at ``dst_fps`` (at least 1)."""
    if src_fps <= 0 or dst_fps <= 0:
        raise X3DError(f"frame rates must be positive, got {src_fps} -> {dst_fps}")
    return max(1, int(round(num_frames * dst_fps / src_fps)))


def interpolate_frames(frames: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``frames`` (T, ...) linearly interpolated at fractional frame positions ``pos`` (K,) in [0, T - 1]."""
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, frames.shape[0] - 1)
    w = (pos - lo).reshape((-1,) + (1,) * (frames.ndim - 1))
    out = frames[lo] * (1.0 - w) + frames[hi] * w
    return out.astype(frames.dtype if np.issubdtype(frames.dtype, np.floating) else np.float32)


def resample_frames(frames: np.ndarray, src_fps: float, dst_fps: float, mode: str = "linear") -> np.ndarray:
    """Resample ``frames`` (T, ...) from ``src_fps`` to ``dst_fps`` over the same duration.

    Output frame k shows time ``k / dst_fps``. ``mode="linear"`` interpolates neighbouring frames
    (for vertices or parameters); ``"nearest"`` picks the closest frame (for rendered images).
    """
    frames = np.asarray(frames)
    count = resampled_count(frames.shape[0], src_fps, dst_fps)
    if count == frames.shape[0] and src_fps == dst_fps:
        return frames.copy()
    pos = np.clip(np.arange(count) * (src_fps / dst_fps), 0.0, frames.shape[0] - 1)
    if mode == "nearest":
        return frames[np.rint(pos).astype(np.int64)]
    if mode != "linear":
        raise X3DError(f"resample mode must be 'linear' or 'nearest', got {mode!r}")
    return interpolate_frames(frames, pos)


def fit_frame_count(frames: np.ndarray, count: int) -> np.ndarray:
    """``frames`` (T, ...) trimmed to ``count`` or padded by repeating the last frame."""
    if count < 1:
        raise X3DError(f"frame count must be positive, got {count}")
    if frames.shape[0] >= count:
        return frames[:count]
    tail = np.repeat(frames[-1:], count - frames.shape[0], axis=0)
    return np.concatenate([frames, tail], axis=0)


def fit_audio(audio: np.ndarray, sample_rate: int, num_frames: int, fps: float) -> np.ndarray:
    """Mono ``audio`` (N,) padded with silence or trimmed to exactly ``num_frames / fps`` seconds."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    n = int(round(num_frames * sample_rate / fps))
    if audio.shape[0] >= n:
        return audio[:n].copy()
    return np.concatenate([audio, np.zeros(n - audio.shape[0], np.float32)])


@dataclass(frozen=True)
class WanClip:
    """A motion clip ready to render for Fun-Control.

    Attributes:
        frames: (T, ...) resampled and length-fitted frames (T = 4n+1).
        fps: the preset's frame rate.
        audio: (N,) audio of exactly T / fps seconds, or None.
        source_frames: how many of the T frames carry motion (the rest hold the last one).
    """

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None
    source_frames: int


class ResampledFrames(LazyFrames):
    """``frames`` (T, ...) at ``src_fps`` seen as ``count`` frames at ``dst_fps`` (linear interpolation, frames
    past the end hold the last one), computed when indexed: each output frame reads only its two source
    frames, so a lazily decoded clip is never decoded whole."""

    def __init__(self, frames, src_fps: float, dst_fps: float, count: int | None = None):
        self.frames = frames
        self.src_fps, self.dst_fps = float(src_fps), float(dst_fps)
        self.motion_frames = resampled_count(frames.shape[0], src_fps, dst_fps)
        self.shape = (self.motion_frames if count is None else int(count), *frames.shape[1:])

    def positions(self, index) -> np.ndarray:
        k = np.arange(self.shape[0])[index]
        return np.clip(np.minimum(k, self.motion_frames - 1) * (self.src_fps / self.dst_fps), 0.0,
                       self.frames.shape[0] - 1)

    def __getitem__(self, index):
        if isinstance(index, tuple):
            return self[index[0]][(slice(None), *index[1:])]
        single = isinstance(index, (int, np.integer))
        pos = np.atleast_1d(self.positions(index))
        if pos.size == 0:
            return np.empty((0, *self.shape[1:]), np.float32)
        lo = int(np.floor(pos.min()))
        hi = min(int(np.floor(pos.max())) + 2, self.frames.shape[0])
        if pos.size > 1 and hi - lo > 4 * pos.size:  # spread frames (a strided view): only the ones needed
            out = np.stack([self._at(p) for p in pos])
        else:
            out = interpolate_frames(np.asarray(self.frames[lo:hi], np.float32), pos - lo)
        return out[0] if single else out

    def _at(self, pos: float) -> np.ndarray:
        lo = int(np.floor(pos))
        return interpolate_frames(np.asarray(self.frames[lo : lo + 2], np.float32), np.array([pos - lo]))[0]


def prepare_for_wan(
    frames: np.ndarray,
    fps: float,
    preset: WanPreset | str,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    min_length: int = 1,
    mode: str = "pad",
    interpolation: str = "linear",
) -> WanClip:
    """Resample ``frames`` (T, ...) at ``fps`` to the preset's rate and a 4n+1 count, audio in sync.

    Args:
        frames: vertices (T, V, 3) or parameters (linear) or images (use ``interpolation="nearest"``); lazily
            computed frames (:class:`~.mesh.LazyFrames`, e.g. meshes decoded on demand) give a lazy
            :class:`ResampledFrames` clip.
        preset: a :class:`WanPreset` or its name.
        audio: mono samples of the clip at ``sample_rate``, or None.
        min_length: the ``length`` the Fun-Control node will take (pad mode reaches at least this).
        mode: ``"pad"`` (hold the last frame) or ``"trim"``.
    """
    preset = get_wan_preset(preset) if isinstance(preset, str) else preset
    if isinstance(frames, LazyFrames):  # computed on demand: resample lazily too
        if interpolation != "linear":
            raise X3DError("lazily computed frames are resampled linearly")
        motion = resampled_count(frames.shape[0], fps, preset.fps)
        count = wan_frame_count(motion, min_length, mode)
        clip_audio = None if audio is None else fit_audio(audio, sample_rate, count, preset.fps)
        return WanClip(ResampledFrames(frames, fps, preset.fps, count), preset.fps, clip_audio, min(motion, count))
    resampled = resample_frames(frames, fps, preset.fps, interpolation)
    count = wan_frame_count(resampled.shape[0], min_length, mode)
    fitted = fit_frame_count(resampled, count)
    clip_audio = None if audio is None else fit_audio(audio, sample_rate, count, preset.fps)
    return WanClip(fitted, preset.fps, clip_audio, min(resampled.shape[0], count))


WAN_TRAINED_FRAMES = 81
"""Wan 2.2 Fun-Control was trained on 81-frame clips; longer single windows lose quality."""


@dataclass(frozen=True)
class WanWindow:
    """One fixed-length window of a long clip, at the preset's frame rate.

    Attributes:
        index: 0-based window number.
        count: how many windows cover the clip.
        start: first frame of the window in the resampled clip.
        length: frames in the window (4n+1).
        fps: the preset's frame rate.
        motion_frames: how many of them carry the clip's motion (the rest hold its last pose).
    """

    index: int
    count: int
    start: int
    length: int
    fps: float
    motion_frames: int = 0

    @property
    def start_s(self) -> float:
        """Where the window starts in the driving audio, in seconds."""
        return self.start / self.fps


def wan_windows(num_frames: int, length: int = WAN_TRAINED_FRAMES) -> tuple[int, int]:
    """(window length, number of windows) that cover ``num_frames`` resampled frames back to back.

    The window length is ``length`` snapped up to 4n+1.
    """
    if length < 1:
        raise X3DError(f"window length must be positive, got {length}")
    window = wan_frame_count(1, int(length), "pad")
    return window, max(1, -(-int(num_frames) // window))


def prepare_wan_window(
    frames: np.ndarray,
    fps: float,
    preset: WanPreset | str,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    length: int = WAN_TRAINED_FRAMES,
    index: int = 0,
    mode: str = "pad",
) -> tuple[WanClip, WanWindow]:
    """Window ``index`` of ``frames`` (T, ...) resampled to the preset's rate, with its audio segment.

    Windows of ``length`` (snapped to 4n+1) frames follow each other without overlap, so window k starts
    at ``k * length / preset.fps`` seconds and its audio is that stretch of the driving audio. The last
    window is padded by holding the last pose (``pad``) or cut to the 4n+1 frames that carry motion
    (``trim``). Only the window's frames are materialised.

    Raises:
        X3DError: ``index`` is not one of the clip's windows (the message says how many there are).
    """
    preset = get_wan_preset(preset) if isinstance(preset, str) else preset
    win = plan_wan_window(frames.shape[0], fps, preset, length, index, mode)
    total = resampled_count(frames.shape[0], fps, preset.fps)
    # Source frames that cover the window (+1 for interpolation), so a long clip is never resampled whole.
    src_lo = int(np.floor(win.start * fps / preset.fps))
    src_hi = min(frames.shape[0], int(np.ceil((win.start + win.length) * fps / preset.fps)) + 2)
    stop = min(win.start + win.motion_frames, total)
    pos = np.clip(np.arange(win.start, stop) * (fps / preset.fps), 0.0, frames.shape[0] - 1) - src_lo
    fitted = fit_frame_count(interpolate_frames(np.asarray(frames[src_lo:src_hi]), pos), win.length)
    clip_audio = None
    if audio is not None:
        a0 = int(round(win.start * sample_rate / preset.fps))
        clip_audio = fit_audio(np.asarray(audio, np.float32).reshape(-1)[a0:], sample_rate, win.length, preset.fps)
    return WanClip(fitted, preset.fps, clip_audio, win.motion_frames), win


def plan_wan_window(num_frames: int, fps: float, preset: WanPreset | str, length: int = WAN_TRAINED_FRAMES,
                    index: int = 0, mode: str = "pad") -> WanWindow:
    """Window ``index`` of a clip of ``num_frames`` at ``fps``, resampled to the preset's rate and cut into
    back-to-back windows of ``length`` (snapped to 4n+1) frames; in ``trim`` mode the last window is cut to
    the 4n+1 frames that carry motion.

    Raises:
        X3DError: ``index`` is not one of the clip's windows (the message says how many there are).
    """
    preset = get_wan_preset(preset) if isinstance(preset, str) else preset
    total = resampled_count(num_frames, fps, preset.fps)
    window, count = wan_windows(total, length)
    if not 0 <= index < count:
        raise X3DError(f"window {index} does not exist: this clip has {count} window(s) of {window} frames at "
                       f"{preset.fps:g} fps (0..{count - 1})")
    start = index * window
    n_motion = min(window, total - start)
    n_out = wan_frame_count(n_motion, 1, "trim") if (mode == "trim" and n_motion < window) else window
    return WanWindow(index, count, start, n_out, float(preset.fps), min(n_motion, n_out))
