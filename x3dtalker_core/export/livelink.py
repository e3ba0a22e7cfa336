"""Live Link Face CSV: the file Epic's iPhone app exports for a take, written from an ARKit track.

Layout (the app's, column for column): ``Timecode, BlendShapeCount``, the 52 ARKit shapes in PascalCase in
the app's order (ARKit's enum order except that ``JawRight, JawLeft`` and ``MouthRight, MouthLeft`` come
right-before-left), then ``HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll,
RightEyeYaw, RightEyePitch, RightEyeRoll`` in radians. ``BlendShapeCount`` is always 61 (52 + 9).
``Timecode`` is ``HH:MM:SS:FF.mmm``: frame FF within the second at the take's rate, then the sub-frame
in thousandths (always ``.000`` here: frames lie on the rate's grid). Takes are 60 fps (30 optional).

The app writes the weight of ``mouthLeft`` under ``MouthRight`` and vice versa; importers built for app
takes compensate for it, so that is the default here too (``app_mouth_mirroring=False`` writes each
weight under its own name).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidFileError, X3DError
from ..flame.arkit import ARKIT52_NAMES
from ..io_utils import atomic_path
from .track import ArkitTrack, head_yaw_pitch_roll

BLENDSHAPE_COUNT = 61
"""The app's ``BlendShapeCount`` column: 52 shapes + 3 head + 6 eye rotations."""

ROTATION_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                    "RightEyeYaw", "RightEyePitch", "RightEyeRoll")


def _app_shape_order() -> tuple[str, ...]:
    names = list(ARKIT52_NAMES)
    for a, b in (("jawLeft", "jawRight"), ("mouthLeft", "mouthRight")):
        i, j = names.index(a), names.index(b)
        names[i], names[j] = names[j], names[i]
    return tuple(names)


SHAPE_ORDER: tuple[str, ...] = _app_shape_order()
"""ARKit names in the app's column order (right before left for jaw and mouth sideways motion)."""

COLUMNS: tuple[str, ...] = ("Timecode", "BlendShapeCount", *(n[0].upper() + n[1:] for n in SHAPE_ORDER),
                            *ROTATION_COLUMNS)
"""The 63 columns of a Live Link Face CSV, in the app's order."""

APP_FPS = (60, 30)
MIRRORED = {"mouthLeft": "mouthRight", "mouthRight": "mouthLeft"}


def timecode(frame: int, fps: int) -> str:
    """``HH:MM:SS:FF.mmm`` of frame ``frame`` at integer ``fps`` (sub-frame 0)."""
    seconds, ff = divmod(int(frame), fps)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.000"


def livelink_rows(track: ArkitTrack, fps: int = 60, app_mouth_mirroring: bool = True,
                  start_frame: int = 0) -> tuple[list[str], np.ndarray]:
    """Timecodes (N,) and the (N, 61) values of a Live Link Face take of ``track`` at ``fps``."""
    if fps not in APP_FPS:
        raise X3DError(f"Live Link Face takes are {APP_FPS[0]} or {APP_FPS[1]} fps, got {fps}")
    track = track.resample(float(fps))
    index = {n: i for i, n in enumerate(ARKIT52_NAMES)}
    source = [MIRRORED.get(n, n) if app_mouth_mirroring else n for n in SHAPE_ORDER]
    shapes = track.weights[:, [index[n] for n in source]]
    rotations = np.concatenate(
        [head_yaw_pitch_roll(track.head), head_yaw_pitch_roll(track.eyes[:, :3]), head_yaw_pitch_roll(track.eyes[:, 3:])],
        axis=1,
    )
    codes = [timecode(start_frame + i, fps) for i in range(track.num_frames)]
    return codes, np.concatenate([shapes, rotations], axis=1).astype(np.float32)


def write_livelink_csv(path: str | Path, track: ArkitTrack, fps: int = 60, app_mouth_mirroring: bool = True,
                       start_frame: int = 0) -> Path:
    """Write ``track`` as a Live Link Face CSV at ``fps`` (60 or 30), atomically."""
    codes, values = livelink_rows(track, fps, app_mouth_mirroring, start_frame)
    buf = io.StringIO()
    buf.write(",".join(COLUMNS) + "\n")
    for code, row in zip(codes, values):
        buf.write(f"{code},{BLENDSHAPE_COUNT}," + ",".join(f"{v:.6f}" for v in row.tolist()) + "\n")
    path = Path(path)
    with atomic_path(path, suffix=".csv") as tmp:
        tmp.write_text(buf.getvalue(), newline="")
    return path


@dataclass(frozen=True)
class LiveLinkTake:
    """A Live Link Face CSV read back: ``values`` (N, 61) under ``columns[2:]``."""

    columns: tuple[str, ...]
    timecodes: list[str]
    counts: np.ndarray
    values: np.ndarray

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.columns.index(name) - 2]


def read_livelink_csv(path: str | Path) -> LiveLinkTake:
    """Read a Live Link Face CSV (the app's or ours)."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise InvalidFileError(f"cannot read Live Link CSV {path}: {exc}") from None
    if not rows or rows[0][:2] != ["Timecode", "BlendShapeCount"]:
        raise InvalidFileError(f"{path} is not a Live Link Face CSV (first columns must be Timecode,BlendShapeCount)")
    header, body = tuple(rows[0]), [r for r in rows[1:] if r]
    try:
        values = np.array([[float(x) for x in r[2:]] for r in body], np.float32).reshape(len(body), len(header) - 2)
        counts = np.array([int(r[1]) for r in body])
    except ValueError as exc:
        raise InvalidFileError(f"{path}: malformed Live Link row ({exc})") from None
    return LiveLinkTake(header, [r[0] for r in body], counts, values)
