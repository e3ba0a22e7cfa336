"""Render a :class:`FlameSequence` to files: preview.mp4, depth.mp4, mesh.glb (+ render.json), and windows
of it as IMAGE batches.

Shared by the ``render`` and ``generate`` commands and the ComfyUI nodes. The steps: decode the meshes
(:func:`.mesh.flame_vertices`, which also adds the mouth interior), :func:`plan_render` (Wan resampling,
camera, depth range, audio), :func:`encode_videos` (each frame rasterised once to 8-bit layers and
streamed into per-file encoder threads: memory stays flat however long the clip), :func:`export_meshes`.
Every file is written atomically; cancel leaves none behind.
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
from .camera import Camera
from .images import DepthRange
from .sequence import RenderedFrames

log = logging.getLogger(__name__)

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
        preview, depth, normals, mask: which videos to write (preview.mp4, depth.mp4, normals.mp4, mask.mp4);
            layers that are off are never rendered.
        glb, obj: which mesh files to write (mesh.glb, mesh_obj.zip).
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
    preview: bool = True
    depth: bool = True
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
    framing = cams.Framing.fit(vertices[:: spread_step(vertices.shape[0])], fov_deg=fov_deg)
    return name, cams.camera_preset(name, framing, vertices.shape[0], fps)


VIDEO_FILES = {"preview": "preview.mp4", "depth": "depth.mp4", "normals": "normals.mp4", "mask": "mask.mp4"}
"""The mp4 file each video layer goes to."""

DEPTH_RANGE_FRAMES = 500
"""At most this many frames, spread evenly over the clip, measure its depth range (all frames of shorter clips).
The files and the Wan windows both use this rule, so every window of a clip shares the depth.mp4 range."""



def spread_step(num_frames: int) -> int:
    """The stride that picks at most :data:`DEPTH_RANGE_FRAMES` frames spread over a clip (every frame of
    shorter clips): what the depth range and the preset cameras' framing are measured on."""
    return max(1, -(-int(num_frames) // DEPTH_RANGE_FRAMES))


ENCODE_QUEUE_FRAMES = 8
"""Frames waiting per encoder thread: bounds memory, and the delay between Cancel and the stop."""


@dataclass(frozen=True)
class RenderPlan:
    """A clip ready to rasterise: everything every frame needs, decided once for the whole clip.

    Attributes:
        vertices: (T, V, 3) the frames to render, metres (resampled to the Wan rate and 4n+1 frames
            when the settings ask for Wan), an array or a :class:`.mesh.SequenceMeshes`.
        faces: (F, 3) triangles (FLAME plus the mouth interior).
        camera: one camera or one per frame; ``camera_name`` says which was chosen.
        fps: frame rate of ``vertices``.
        width, height: output size (snapped to the Wan multiple with Wan).
        depth_range: the one near/far of the clip's depth images.
        audio: (N,) 16 kHz mono audio of exactly T / fps seconds, or None.
        wan: the Wan hand-off facts (preset, frames, motion_frames), or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    camera: Camera
    camera_name: str
    fps: float
    width: int
    height: int
    depth_range: DepthRange
    audio: np.ndarray | None = None
    wan: dict | None = None

    @property
    def num_frames(self) -> int:
        return int(self.vertices.shape[0])


def video_layers(settings: RenderSettings) -> tuple[str, ...]:
    """The video layers (:data:`VIDEO_FILES` keys) the settings switch on, in file order."""
    wanted = {"preview": settings.preview, "depth": settings.depth, "normals": settings.normals, "mask": settings.mask}
    return tuple(name for name in VIDEO_FILES if wanted[name])


def plan_render(
    sequence: FlameSequence,
    vertices: np.ndarray,
    faces: np.ndarray,
    settings: RenderSettings = RenderSettings(),
    audio: np.ndarray | None = None,
) -> RenderPlan:
    """Frames, camera, size, depth range and audio of a clip (Wan resampling when the settings ask).

    Args:
        sequence: the motion (its fps, fitted camera and reference-photo framing are used).
        vertices, faces: the meshes of ``sequence``, (T, V, 3) and (F, 3): decoded (:func:`.mesh.flame_vertices`)
            or decoded on demand (:class:`.mesh.SequenceMeshes`; the Wan resampling then stays lazy too).
        audio: (N,) 16 kHz mono driving audio, or None; it is padded or trimmed to the frames' duration.
    """
    from .sequence import measure_depth_range
    from .wan import fit_audio, fit_frame_count, get_wan_preset, prepare_for_wan, resample_frames, wan_size

    width, height, fps = settings.width, settings.height, sequence.fps
    cam_values, wan_info = sequence.cam, None
    if settings.wan:
        preset = get_wan_preset(settings.wan)
        width, height = wan_size(width, height, preset.multiple)
        clip = prepare_for_wan(vertices, fps, preset, audio, SAMPLE_RATE, settings.wan_length,
                               "trim" if settings.wan_trim else "pad")
        if cam_values is not None:
            cam_values = fit_frame_count(resample_frames(cam_values, fps, preset.fps), clip.frames.shape[0])
        vertices, fps, audio = clip.frames, clip.fps, clip.audio
        wan_info = {"preset": preset.name, "frames": int(clip.frames.shape[0]), "motion_frames": clip.source_frames}
    elif audio is not None:
        audio = fit_audio(audio, SAMPLE_RATE, vertices.shape[0], fps)
    camera_name, camera = select_camera(settings.camera, vertices, cam_values, fps, width, height,
                                        photo_framing(sequence), settings.fov_deg)
    step = spread_step(vertices.shape[0])
    depth_range = measure_depth_range(vertices[::step], faces, camera.slice(0, vertices.shape[0], step), width, height)
    return RenderPlan(vertices, faces, camera, camera_name, float(fps), width, height, depth_range, audio, wan_info)


def encode_videos(
    plan: RenderPlan,
    out: Path,
    layers: tuple[str, ...],
    background: tuple[float, float, float],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Path]:
    """Render ``plan`` once per frame and stream the ``layers`` into their mp4 files (audio muxed).

    Each file has its own encoder thread behind a short queue, so encoding overlaps rendering and memory
    does not grow with the clip. On cancel or error every partial file is removed.
    """
    from contextlib import closing

    from .stream import stream_video_frames
    from .video import EncoderThread, Mp4Writer

    encoders: dict[str, EncoderThread] = {}
    try:
        for name in layers:
            encoders[name] = EncoderThread(Mp4Writer(out / VIDEO_FILES[name], plan.fps, plan.audio, SAMPLE_RATE),
                                           ENCODE_QUEUE_FRAMES)
        frames = stream_video_frames(plan.vertices, plan.faces, plan.camera, plan.width, plan.height,
                                     plan.depth_range, layers, background, should_stop=should_stop)
        with closing(frames):
            for done, frame in enumerate(frames, start=1):
                for name, encoder in encoders.items():
                    encoder.put(frame[name][None])
                if progress is not None:
                    progress(done, plan.num_frames)
        return {name: encoder.close() for name, encoder in encoders.items()}
    except BaseException:
        for encoder in encoders.values():
            encoder.abort()
        raise


def export_meshes(
    out: Path,
    sequence: FlameSequence,
    flame_model,
    vertices: np.ndarray,
    faces: np.ndarray,
    settings: RenderSettings,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Path]:
    """mesh.glb and mesh_obj.zip as the settings ask; they keep FLAME's own topology (the mouth interior,
    vertices past V and faces past F, is render-only)."""
    from .sequence import RenderCancelled

    def check_cancel() -> None:
        if should_stop is not None and should_stop():
            raise RenderCancelled("mesh export was cancelled")

    num_flame = flame_model.num_vertices
    flame_faces = faces[: flame_model.faces.shape[0]]
    # Decoded meshes are reused; meshes decoded on demand are not decoded for the rigged GLB, which
    # does not need them.
    decoded = vertices if isinstance(vertices, np.ndarray) else None
    files: dict[str, Path] = {}
    if settings.glb:
        from ..export.rig_glb import export_sequence_glb

        check_cancel()
        files["glb"] = Path(export_sequence_glb(out / "mesh.glb", sequence, flame_model, settings.glb_mode,
                                                None if decoded is None else decoded[:, :num_flame],
                                                cancel=should_stop))
    if settings.obj:
        from .export import export_obj_sequence

        check_cancel()
        flame_verts = (decoded if decoded is not None else np.asarray(vertices))[:, :num_flame]
        files["obj"] = Path(export_obj_sequence(out / "mesh_obj.zip", flame_verts, flame_faces, sequence.fps))
    return files


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
    """Write the videos the settings switch on (preview.mp4, depth.mp4, normals.mp4, mask.mp4; audio muxed),
    mesh.glb / mesh_obj.zip, and render.json into ``out``. Layers that are off are never rendered.

    Args:
        sequence: the motion to render.
        out: output folder (created).
        settings: size, camera, Wan hand-off, background and which outputs (:class:`RenderSettings`).
        audio: (N,) float32 16 kHz mono driving audio to mux, or None.
        progress: ``progress(done, total)``: frames rendered and queued to the encoders, then the mesh
            exports (total = frames + 1 per mesh file); it is monotone and ends at ``total``.
        should_stop: polled before every frame and every export; returning True (or raising) stops
            within about a frame and raises :class:`~.sequence.RenderCancelled` (or the raised error);
            no partial file is left.
        sources: facts to record in render.json (input paths).
        flame_model: a loaded FLAME model (default: the resolved asset).

    Returns:
        The report written to ``render.json``: ``outputs`` ({name: path} for preview, depth, normals,
        mask, glb, obj), ``files`` (the same paths as strings), frames, fps, size, camera, depth range,
        Wan facts and timings.
    """
    from tqdm import tqdm

    from .mesh import SequenceMeshes

    out = Path(out)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if flame_model is None:  # loaded once: the meshes and the rigged GLB both need it
        from ..flame import load_flame_model

        flame_model = load_flame_model(landmarks=False)

    # Meshes are decoded as the renderer reaches them, so memory does not grow with the clip (the decode
    # time is part of render_encode_s).
    vertices = SequenceMeshes(sequence, model=flame_model)
    faces = vertices.faces
    timings["flame_s"] = time.perf_counter() - started

    t0 = time.perf_counter()
    plan = plan_render(sequence, vertices, faces, settings, audio)
    timings["plan_s"] = time.perf_counter() - t0

    layers = video_layers(settings)
    mesh_files = int(settings.glb) + int(settings.obj)
    total = plan.num_frames * bool(layers) + mesh_files
    bar = tqdm(total=total, desc="render", unit="frame", disable=not show_progress)

    def report_progress(done: int, _stage_total: int | None = None) -> None:
        bar.update(done - bar.n)
        if progress is not None:
            progress(done, total)

    out.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {}
    try:
        t0 = time.perf_counter()
        if layers:
            outputs.update(encode_videos(plan, out, layers, settings.background, report_progress, should_stop))
        timings["render_encode_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        meshes = export_meshes(out, sequence, flame_model, vertices, faces, settings, should_stop)
        timings["export_s"] = time.perf_counter() - t0
    except BaseException:
        for name in outputs:  # a cancel during the mesh export also drops the finished videos
            outputs[name].unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    outputs.update(meshes)
    if mesh_files:
        report_progress(total)
    timings["total_s"] = time.perf_counter() - started

    report = render_report(plan, settings, outputs, timings, sources)
    with atomic_path(out / "render.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    log.info("rendered %d frames at %dx%d in %.1f s", plan.num_frames, plan.width, plan.height, timings["total_s"])
    return report


def render_report(plan: RenderPlan, settings: RenderSettings, outputs: dict[str, Path], timings: dict[str, float],
                  sources: dict | None = None) -> dict:
    """The render.json record of one :func:`render_to_files` run."""
    from .images import DEFAULT_DEPTH_FLOOR

    return {
        **(sources or {}),
        "frames": plan.num_frames,
        "fps": plan.fps,
        "width": plan.width,
        "height": plan.height,
        "camera": plan.camera_name,
        "settings": asdict(settings),
        "depth_range_m": [plan.depth_range.near, plan.depth_range.far],
        "depth_mapping": f"value = {DEFAULT_DEPTH_FLOOR} + {1 - DEFAULT_DEPTH_FLOOR:g} * (far - z) / (far - near) "
        "on the head, 0 on the background",
        "wan": plan.wan,
        "outputs": {name: str(path) for name, path in outputs.items()},
        "files": [str(path) for path in outputs.values()],
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "render_fps": plan.num_frames / max(timings.get("render_encode_s", 0.0), 1e-9),
    }


@dataclass(frozen=True)
class RenderedWindow:
    """Frames ``start .. start + count`` of a clip as float IMAGE batches, with their audio.

    Attributes:
        frames: the rendered window (:class:`~.sequence.RenderedFrames`: depth, shaded, mask, ...).
        start: first frame of the window in the clip (at ``fps``).
        fps: frame rate of the clip (the Wan preset's with Wan settings).
        audio: (N,) 16 kHz mono audio of exactly the window, or None.
        motion_frames: how many of the window's frames lie inside the clip (the rest hold the last frame).
        clip_frames: frames in the whole clip.
    """

    frames: RenderedFrames
    start: int
    fps: float
    audio: np.ndarray | None
    motion_frames: int
    clip_frames: int


def render_window(
    sequence: FlameSequence,
    start: int,
    count: int,
    settings: RenderSettings = RenderSettings(),
    audio: np.ndarray | None = None,
    outputs: tuple[str, ...] = ("depth", "shaded"),
    flame_model=None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RenderedWindow:
    """``count`` frames from frame ``start`` of the clip as IMAGE batches (the Wan hand-off's windows).

    Only the window is rasterised and held (memory grows with ``count``, not with the clip). The camera,
    the depth range and (with ``settings.wan``) the resampling are the whole clip's, exactly as in
    :func:`render_to_files`, so consecutive windows join without jumps and match depth.mp4. A window
    that runs past the clip's end holds its last frame (audio: silence).

    Args:
        start, count: the window, in frames of the rendered clip (Wan rate with ``settings.wan``).
        outputs: subset of :data:`.sequence.OUTPUTS` (``depth``, ``normals``, ``shaded``).
    """
    from .mesh import SequenceMeshes
    from .sequence import render_sequence
    from .wan import fit_audio, fit_frame_count

    if count < 1 or start < 0:
        raise X3DError(f"a render window needs start >= 0 and count >= 1, got start={start} count={count}")
    vertices = SequenceMeshes(sequence, model=flame_model)
    faces = vertices.faces
    plan = plan_render(sequence, vertices, faces, settings, audio)
    if start >= plan.num_frames:
        raise X3DError(f"window start {start} is past the clip's last frame {plan.num_frames - 1} "
                       f"({plan.num_frames} frames at {plan.fps:g} fps)")
    stop = min(start + count, plan.num_frames)
    window_vertices = fit_frame_count(plan.vertices[start:stop], count)
    frames = render_sequence(window_vertices, faces, plan.camera.window(start, count), plan.width, plan.height, outputs=outputs,
                             depth_range=plan.depth_range, background=settings.background, progress=progress,
                             should_stop=should_stop)
    window_audio = None
    if plan.audio is not None:
        first = int(round(start * SAMPLE_RATE / plan.fps))
        window_audio = fit_audio(plan.audio[first:], SAMPLE_RATE, count, plan.fps)
    return RenderedWindow(frames, start, plan.fps, window_audio, stop - start, plan.num_frames)

