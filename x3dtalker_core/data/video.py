"""Reading talking videos through PyAV (FFmpeg): frames resampled to a fixed rate and a square centre crop
(paper Appendix B.1, step 5: shorter side to ``size``, centre crop, 25 fps). Durations and sizes come from
:func:`x3dtalker_core.render.video.probe_video` with ``decode=False`` (headers only).

Frames stream one at a time, so hour-long sources never sit in memory; scaling uses FFmpeg's swscale.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import FPS
from ..errors import InvalidFileError
from ..render.video import import_av

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")


def crop_box(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """Scaled size (w, h) with the shorter side = ``size`` and the centre crop's offset (x0, y0)."""
    scale = size / min(width, height)
    sw, sh = max(size, round(width * scale)), max(size, round(height * scale))
    return sw, sh, (sw - size) // 2, (sh - size) // 2


def iter_frames(path: str | Path, fps: float = FPS, size: int | None = None,
                max_frames: int | None = None) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 RGB frames of ``path`` at ``fps`` (nearest source frame for each output time).

    Args:
        size: when set, the shorter side is scaled to ``size`` and the centre ``size``² square kept.
        max_frames: stop after this many output frames.
    """
    av = import_av()
    emitted = 0
    geometry = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            prev_frame, prev_t = None, None
            for frame in container.decode(stream):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else (prev_t or 0.0) + 1.0 / fps
                # emit every output time that falls closer to the previous source frame than this one
                while prev_frame is not None and (emitted / fps) < (prev_t + t) / 2:
                    yield _convert(prev_frame, geometry, size)
                    emitted += 1
                    if max_frames is not None and emitted >= max_frames:
                        return
                if geometry is None and size is not None:
                    geometry = crop_box(frame.width, frame.height, size)
                prev_frame, prev_t = frame, t
            if prev_frame is None:
                raise InvalidFileError(f"{path} has no decodable video frames")
            # the last source frame covers one source-frame duration
            src_fps = float(stream.average_rate or fps)
            end = prev_t + 1.0 / src_fps
            while emitted / fps < end - 0.5 / fps:
                yield _convert(prev_frame, geometry, size)
                emitted += 1
                if max_frames is not None and emitted >= max_frames:
                    return
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise InvalidFileError(f"cannot decode video {path}: {exc}") from None


def _convert(frame, geometry, size: int | None) -> np.ndarray:
    if size is None:
        return frame.to_ndarray(format="rgb24")
    sw, sh, x0, y0 = geometry
    # swscale area filter: clean downscaling of HD sources
    rgb = frame.reformat(width=sw, height=sh, format="rgb24", interpolation="AREA").to_ndarray()
    return np.ascontiguousarray(rgb[y0 : y0 + size, x0 : x0 + size])


def read_frames(path: str | Path, fps: float = FPS, size: int | None = None,
                max_frames: int | None = None) -> np.ndarray:
    """(T, H, W, 3) uint8: :func:`iter_frames` collected (short clips only)."""
    frames = list(iter_frames(path, fps, size, max_frames))
    if not frames:
        raise InvalidFileError(f"{path} has no video frames")
    return np.stack(frames)


def list_videos(root: str | Path) -> list[Path]:
    """Every video file below ``root`` (by extension), sorted by relative path."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidFileError(f"video folder not found: {root}")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                  and not p.name.startswith("."))
