"""ARKit blendshape JSON for Audio2Face-style and LAM-style consumers.

* Audio2Face blendshape export (what NVIDIA Audio2Face's "Export blendshape weights" writes and its Maya,
  Unreal and Blender importers read): ``exportFps``, ``trackPath``, ``numPoses``, ``numFrames``,
  ``facsNames`` (the pose names) and ``weightMat`` (``numFrames`` rows of ``numPoses`` weights).
* LAM / LAM-Audio2Expression style: ``names`` (the 52 ARKit names) and ``values`` (one row of 52 weights
  per frame), plus ``fps``.

Both use ARKit's camelCase names in ARKit's enum order.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..flame.arkit import ARKIT52_NAMES
from ..io_utils import atomic_path
from .track import ArkitTrack


def _rows(track: ArkitTrack) -> list[list[float]]:
    return [[round(v, 6) for v in row] for row in track.weights.astype(float).tolist()]


def a2f_document(track: ArkitTrack, fps: float | None = None, track_path: str = "") -> dict:
    """The Audio2Face blendshape JSON of ``track`` (resampled to ``fps`` when given)."""
    track = track.resample(float(fps)) if fps else track
    return {
        "exportFps": int(track.fps) if float(track.fps).is_integer() else track.fps,
        "trackPath": track_path,
        "numPoses": len(ARKIT52_NAMES),
        "numFrames": track.num_frames,
        "facsNames": list(ARKIT52_NAMES),
        "weightMat": _rows(track),
    }


def lam_document(track: ArkitTrack, fps: float | None = None) -> dict:
    """The LAM-style ``{"names", "values"}`` JSON of ``track`` (with its ``fps``)."""
    track = track.resample(float(fps)) if fps else track
    return {"names": list(ARKIT52_NAMES), "values": _rows(track), "fps": track.fps}


def write_json(path: str | Path, document: dict) -> Path:
    """Write ``document`` as compact JSON, atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(document, separators=(",", ":")))
    return path
