"""Render a :class:`FlameSequence` to files: preview.mp4, depth.mp4, mesh.glb (+ render.json).

Shared by the ``render`` and ``generate`` commands. Frames are rendered and encoded in chunks, so
memory stays flat however long the clip; every file is written atomically.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import SAMPLE_RATE
from ..errors import X3DError
from ..io_utils import atomic_path
from ..params import FlameSequence

log = logging.getLogger(__name__)

CHUNK_FRAMES = 64
"""Frames rendered and encoded at a time."""


@dataclass(frozen=True)
class RenderSettings:
    """What to render and how.

    Attributes:
        width, height: output size in pixels.
        camera: see :func:`select_camera`: ``photo`` lines the render up with the whole reference photo,
            ``fitted`` with its face crop; presets ``static``, ``orbit``, ``dolly``, ``pan``, ``keys:...``;
            None/``auto`` picks photo > fitted > static.
        fov_deg: perspective field of view of the presets.
        wan: ``14b`` / ``5b`` for the Wan 2.2 Fun-Control hand-off, or None.
        wan_length: with ``wan``, at least this many frames.
        wan_trim: with ``wan``, trim to 4n+1 frames instead of padding.
        background: preview background colour, RGB in [0, 1].
        normals, mask, glb, obj: which extra files to write.
        glb_mode: ``rigged`` (FLAME joints + named expression morph targets, size nearly constant in
            length) or ``exact`` (every frame's vertices); see :mod:`x3dtalker_core.export.rig_glb`.
    """

    width: int = 512
    height: int = 512
    camera: str | None = None
    fov_deg: float = 20.0
    wan: str | None = None
    wan_length: int = 1
    wan_trim: bool = False
    background: tuple[float, float, float] = (0.1, 0.1, 0.1)
    normals: bool = False
    mask: bool = False
    glb: bool = True
    glb_mode: str = "rigged"
    obj: bool = False

    def __post_init__(self) -> None:
        if not (16 <= self.width <= 8192 and 16 <= self.height <= 8192):
            raise X3DError(f"output size must be between 16 and 8192 pixels, got {self.width}x{self.height}")


def photo_framing(sequence: FlameSequence) -> tuple[list[float], list[int]] | None:
    """(crop, image_size) of the reference photo recorded in the sequence metadata, or None."""
    ref = sequence.metadata.get("reference") or {}
    crop, size = ref.get("crop"), ref.get("image_size")
    if crop is None or size is None or len(crop) != 3 or len(size) != 2:
        return None
    return crop, size


CAMERA_CHOICES = ("auto", "photo", "fitted", "static", "orbit", "dolly", "pan")
"""Camera names for menus; ``auto`` = photo, else fitted, else static (``keys:...`` paths also accepted)."""


def select_camera(
    name: str | None,
    vertices: np.ndarray,
    cam: np.ndarray | None,
    fps: float,
    width: int,
    height: int,
    photo: tuple | None = None,
    fov_deg: float = 20.0,
):
    """The camera called ``name`` for a clip (one place for the CLI, the pipeline and the nodes).

    Args:
        name: one of :data:`CAMERA_CHOICES` or ``keys:...``; None/``auto`` picks photo > fitted > static.
        vertices: (T, V, 3) what will be rendered (presets frame it).
        cam: (T, 3) EMOCA camera per frame, or None.
        photo: (crop, image_size) of the reference photo (:func:`photo_framing`), or None.

    Returns:
        (resolved name, :class:`~x3dtalker_core.render.camera.Camera`).
    """
    from . import camera as cams

    if name in (None, "", "auto"):
        name = "photo" if (photo is not None and cam is not None) else "fitted" if cam is not None else "static"
    if name in ("fitted", "photo") and cam is None:
        raise X3DError(f"camera '{name}' needs the reference's fitted camera (a photo fit has one); this sequence "
                       "has none, so choose 'static' or another preset")
    if name == "photo":
        if photo is None:
            raise X3DError("camera 'photo' needs the reference photo's face crop and size in the sequence metadata "
                           "(sequences made from a photo have them); use 'fitted' or a preset")
        return name, cams.orthographic_from_emoca(cams.photo_cam(cam, photo[0], photo[1], width / height))
    if name == "fitted":
        return name, cams.orthographic_from_emoca(cam)
    if name not in CAMERA_CHOICES and not name.startswith("keys:"):
        raise X3DError(f"unknown camera '{name}'; choose one of {', '.join(CAMERA_CHOICES)} or a 'keys:...' path")
    framing = cams.Framing.fit(vertices, fov_deg=fov_deg)
    return name, cams.camera_preset(name, framing, vertices.shape[0], fps)


def render_to_files(
    sequence: FlameSequence,
    out: str | Path,
    settings: RenderSettings = RenderSettings(),
    audio: np.ndarray | None = None,
    show_progress: bool = True,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    sources: dict | None = None,
    flame_model=None,
) -> dict:
    """Write preview.mp4, depth.mp4 and mesh.glb (and optional normals/mask/OBJ) into ``out``.

    Args:
        sequence: the motion to render.
        out: output folder (created).
        audio: (N,) float32 16 kHz mono driving audio to mux, or None.
        progress: ``progress(done, total)`` over rendered frames.
        should_stop: polled between chunks; returning True aborts (no partial files are left).
        sources: facts to record in render.json (input paths).
        flame_model: a loaded FLAME model (default: the resolved asset).

    Returns:
        The report written to ``render.json`` (files, frames, fps, size, camera, depth range, timings).
    """
    from tqdm import tqdm

    from .export import export_obj_sequence
    from .images import DEFAULT_DEPTH_FLOOR
    from .mesh import flame_vertices
    from .sequence import RenderCancelled, measure_depth_range, render_sequence
    from .video import Mp4Writer
    from .wan import fit_audio, fit_frame_count, get_wan_preset, prepare_for_wan, resample_frames, wan_size

    out = Path(out)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    width, height = settings.width, settings.height

    if flame_model is None:  # loaded once: the meshes and the rigged GLB both need it
        from ..flame import load_flame_model

        flame_model = load_flame_model(landmarks=False)
    bar = tqdm(total=sequence.num_frames, desc="FLAME", unit="frame", disable=not show_progress)
    vertices, faces = flame_vertices(sequence, model=flame_model, progress=lambda done, total: bar.update(done - bar.n))
    bar.close()
    timings["flame_s"] = time.perf_counter() - started

    fps = sequence.fps
    render_vertices, cam_values = vertices, sequence.cam
    wan_info = None
    if settings.wan:
        preset = get_wan_preset(settings.wan)
        width, height = wan_size(width, height, preset.multiple)
        clip = prepare_for_wan(vertices, fps, preset, audio, SAMPLE_RATE, settings.wan_length,
                               "trim" if settings.wan_trim else "pad")
        if cam_values is not None:
            cam_values = fit_frame_count(resample_frames(cam_values, fps, preset.fps), clip.frames.shape[0])
        render_vertices, fps, audio = clip.frames, clip.fps, clip.audio
        wan_info = {"preset": preset.name, "frames": int(clip.frames.shape[0]), "motion_frames": clip.source_frames}
    elif audio is not None:
        audio = fit_audio(audio, SAMPLE_RATE, render_vertices.shape[0], fps)
    num_frames = render_vertices.shape[0]

    camera_name, camera = select_camera(settings.camera, render_vertices, cam_values, fps, width, height,
                                        photo_framing(sequence), settings.fov_deg)

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    depth_range = measure_depth_range(render_vertices, faces, camera, width, height)
    outputs = ("depth", "shaded") + (("normals",) if settings.normals else ())
    writers = {
        "shaded": Mp4Writer(out / "preview.mp4", fps, audio, SAMPLE_RATE),
        "depth": Mp4Writer(out / "depth.mp4", fps, audio, SAMPLE_RATE),
    }
    if settings.normals:
        writers["normals"] = Mp4Writer(out / "normals.mp4", fps, audio, SAMPLE_RATE)
    if settings.mask:
        writers["mask"] = Mp4Writer(out / "mask.mp4", fps, audio, SAMPLE_RATE)
    bar = tqdm(total=num_frames, desc="render", unit="frame", disable=not show_progress)
    try:
        for start in range(0, num_frames, CHUNK_FRAMES):
            if should_stop is not None and should_stop():
                raise RenderCancelled("rendering was cancelled")
            stop = min(start + CHUNK_FRAMES, num_frames)
            frames = render_sequence(
                render_vertices[start:stop], faces, camera.slice(start, stop), width, height, outputs=outputs,
                depth_range=depth_range, background=settings.background,
            )
            for name, writer in writers.items():
                writer.write(frames.mask if name == "mask" else getattr(frames, name))
            bar.update(stop - start)
            if progress is not None:
                progress(stop, num_frames)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    finally:
        bar.close()
    for writer in writers.values():
        writer.close()
    timings["render_encode_s"] = time.perf_counter() - t0

    written = [str(w.path) for w in writers.values()]
    t0 = time.perf_counter()
    # exports keep FLAME's own topology: the mouth interior (vertices past V, faces past F) is render-only
    flame_verts, flame_faces = vertices[:, : flame_model.num_vertices], faces[: flame_model.faces.shape[0]]
    if settings.glb:
        from ..export.rig_glb import export_sequence_glb

        written.append(str(export_sequence_glb(out / "mesh.glb", sequence, flame_model, settings.glb_mode,
                                               flame_verts)))
    if settings.obj:
        written.append(str(export_obj_sequence(out / "mesh_obj.zip", flame_verts, flame_faces, sequence.fps)))
    timings["export_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    report = {
        **(sources or {}),
        "frames": num_frames,
        "fps": fps,
        "width": width,
        "height": height,
        "camera": camera_name,
        "settings": asdict(settings),
        "depth_range_m": [depth_range.near, depth_range.far],
        "depth_mapping": f"value = {DEFAULT_DEPTH_FLOOR} + {1 - DEFAULT_DEPTH_FLOOR:g} * (far - z) / (far - near) "
        "on the head, 0 on the background",
        "wan": wan_info,
        "files": written,
        "timings": timings,
        "render_fps": num_frames / max(timings["render_encode_s"], 1e-9),
    }
    with atomic_path(out / "render.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    log.info("rendered %d frames at %dx%d in %.1f s", num_frames, width, height, timings["total_s"])
    return report
