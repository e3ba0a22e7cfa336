"""A dependency-free preview plot of pose curves (numpy rasteriser + a tiny PNG writer).

Used by the head-pose node's preview (an IMAGE) and by ``control pose --plot``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from ..io_utils import atomic_path
from .pose import PoseTrajectory

CURVE_COLOURS = {"pitch": (0.85, 0.20, 0.15), "yaw": (0.15, 0.45, 0.85), "roll": (0.20, 0.65, 0.25)}
"""Red pitch, blue yaw, green roll."""


def plot_pose_curves(
    traj: PoseTrajectory, width: int = 640, height: int = 240, range_deg: float | None = None
) -> np.ndarray:
    """(H, W, 3) float32 image in [0, 1]: pitch (red), yaw (blue), roll (green) in degrees over time.

    Light grey lines mark every 5 degrees and every second; the darker line is zero. The vertical
    range is ``±range_deg`` (default: the largest absolute angle, at least 5 degrees).
    """
    width, height = max(int(width), 32), max(int(height), 32)
    img = np.ones((height, width, 3), np.float32)
    deg = traj.degrees
    span = float(range_deg) if range_deg else max(5.0, float(np.abs(deg).max()) * 1.1)
    margin = 4

    def row(v: np.ndarray) -> np.ndarray:
        y = (0.5 - np.asarray(v) / (2 * span)) * (height - 2 * margin - 1) + margin
        return np.clip(np.round(y), 0, height - 1).astype(int)

    for g in np.arange(-np.floor(span / 5) * 5, span + 1e-9, 5.0):
        img[row(g)] = 0.9
    for s in range(1, int(traj.duration) + 1):
        img[:, min(width - 1, int(s / traj.duration * (width - 1)))] = 0.9
    img[row(0.0)] = 0.6
    # One sample per column; vertical runs join consecutive samples so steep curves stay connected.
    frames = np.linspace(0, traj.num_frames - 1, width)
    for k, (_, colour) in enumerate(CURVE_COLOURS.items()):
        rows = row(np.interp(frames, np.arange(traj.num_frames), deg[:, k]))
        prev = rows[0]
        for x, r in enumerate(rows):
            lo, hi = min(prev, r), max(prev, r)
            img[lo : hi + 1, x] = colour
            if hi == lo and lo + 1 < height:
                img[lo + 1, x] = colour  # two pixels thick on flat stretches
            prev = r
    return img


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) float image in [0, 1] as an 8-bit RGB PNG, atomically."""
    arr = (np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(png)
    return path
