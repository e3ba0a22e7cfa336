"""Write a sequence's exports by format name: one entry point for the CLI, the main job and the node."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import X3DError
from ..params import FlameSequence

FORMATS = ("livelink", "a2f", "lam", "glb")
FILE_NAMES = {"livelink": "livelink.csv", "a2f": "a2f_blendshapes.json", "lam": "arkit_blendshapes.json",
              "glb": "mesh.glb"}


@dataclass(frozen=True)
class ExportOptions:
    """How exports are written.

    Attributes:
        livelink_fps: Live Link Face take rate (60, or 30).
        app_mouth_mirroring: write mouthLeft/mouthRight swapped, as the iPhone app does.
        json_fps: frame rate of the Audio2Face / LAM JSON (None = the sequence's).
        glb_mode: ``rigged`` (skin + named morph targets) or ``exact`` (per-frame vertices).
        temporal, symmetry: regularisation of the FLAME -> ARKit solve.
        track_path: the audio file named in the Audio2Face JSON.
    """

    livelink_fps: int = 60
    app_mouth_mirroring: bool = True
    json_fps: float | None = None
    glb_mode: str = "rigged"
    temporal: float = 0.05
    symmetry: float = 0.02
    track_path: str = ""


def export_files(
    sequence: FlameSequence,
    model,
    out: str | Path,
    formats: tuple[str, ...] | list[str] = ("livelink",),
    options: ExportOptions = ExportOptions(),
    names: dict[str, str] | None = None,
) -> dict:
    """Write ``formats`` of ``sequence`` (made with ``model``) into ``out``.

    Args:
        names: file name per format, overriding :data:`FILE_NAMES`.

    Returns:
        ``{"files": {format: path}, "arkit": solve summary or None, "timings": {...}}``.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise X3DError(f"unknown export format(s) {unknown}; choose from {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = {**FILE_NAMES, **(names or {})}
    files: dict[str, str] = {}
    timings: dict[str, float] = {}
    track = None
    if any(f in ("livelink", "a2f", "lam") for f in formats):
        from .track import arkit_track

        t0 = time.perf_counter()
        track = arkit_track(sequence, model, temporal=options.temporal, symmetry=options.symmetry)
        timings["arkit_solve_s"] = time.perf_counter() - t0
    for fmt in formats:
        t0 = time.perf_counter()
        path = out / names[fmt]
        if fmt == "livelink":
            from .livelink import write_livelink_csv

            write_livelink_csv(path, track, options.livelink_fps, options.app_mouth_mirroring)
        elif fmt in ("a2f", "lam"):
            from .blendshape_json import a2f_document, lam_document, write_json

            doc = (a2f_document(track, options.json_fps, options.track_path) if fmt == "a2f"
                   else lam_document(track, options.json_fps))
            write_json(path, doc)
        else:
            from .rig_glb import export_sequence_glb

            export_sequence_glb(path, sequence, model, options.glb_mode)
        files[fmt] = str(path)
        timings[f"{fmt}_s"] = time.perf_counter() - t0
    return {"files": files, "arkit": None if track is None else track.info, "timings": timings}
