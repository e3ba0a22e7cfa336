"""``render`` command: a parameter file -> preview.mp4, depth.mp4, mesh.glb (SPEC §6, §8).

    python -m x3dtalker_core render --params params.npz --out out/ --audio speech.wav \
        [--size 512] [--camera fitted|static|orbit|dolly|pan|keys:...] [--wan 14b|5b]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK_FRAMES = 64
"""Frames rendered and encoded at a time: memory stays flat however long the clip."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render",
        help="render a FLAME parameter file to preview/depth videos and an animated GLB",
        description="Render a FLAME parameter sequence (.npz) to preview.mp4 (shaded, with audio), "
        "depth.mp4 (near = bright, for Wan 2.2 Fun-Control) and mesh.glb (animated), plus render.json.",
    )
    p.add_argument("--params", required=True, type=Path, help="parameter file (.npz, FlameSequence.save layout)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--audio", type=Path, help="driving audio to mux into the videos (wav, flac, mp3, ...)")
    p.add_argument("--size", type=int, default=512, help="square output size in pixels (default 512)")
    p.add_argument("--width", type=int, help="output width (overrides --size)")
    p.add_argument("--height", type=int, help="output height (overrides --size)")
    p.add_argument(
        "--camera",
        default=None,
        help="'fitted' (the file's EMOCA camera, lines up with the reference photo; default when present), "
        "'static', 'orbit', 'dolly', 'pan' or a keyframed path 'keys:0:yaw=0;2.5:yaw=20,pitch=5,zoom=0.8'",
    )
    p.add_argument("--fov", type=float, default=20.0, help="perspective field of view in degrees (presets)")
    p.add_argument("--wan", choices=["14b", "5b"], help="Wan 2.2 Fun-Control hand-off: 16/24 fps, size multiple "
                   "of 16/32, 4n+1 frames")
    p.add_argument("--length", type=int, default=1, help="with --wan: at least this many frames (the node's length)")
    p.add_argument("--trim", action="store_true", help="with --wan: trim to 4n+1 frames instead of padding")
    p.add_argument("--background", default="0.1,0.1,0.1", help="preview background colour 'r,g,b' in [0,1]")
    p.add_argument("--normals", action="store_true", help="also write normals.mp4")
    p.add_argument("--mask", action="store_true", help="also write mask.mp4")
    p.add_argument("--obj", action="store_true", help="also write mesh_obj.zip (one OBJ per frame)")
    p.add_argument("--no-glb", action="store_true", help="skip mesh.glb")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run_render)


def _parse_colour(text: str) -> tuple[float, float, float]:
    from ..errors import X3DError

    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0.0 <= v <= 1.0 for v in values):
        raise X3DError(f"--background must be three numbers in [0, 1] like '0.1,0.1,0.1', got {text!r}")
    return values  # type: ignore[return-value]


def run_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..errors import X3DError
    from ..io_utils import atomic_path
    from ..params import FlameSequence
    from . import camera as cams
    from .export import export_glb, export_obj_sequence
    from .images import DEFAULT_DEPTH_FLOOR
    from .mesh import flame_vertices
    from .sequence import measure_depth_range, render_sequence
    from .video import Mp4Writer
    from .wan import fit_audio, fit_frame_count, get_wan_preset, prepare_for_wan, resample_frames, wan_size

    started = time.perf_counter()
    timings: dict[str, float] = {}
    background = _parse_colour(args.background)
    width = args.width or args.size
    height = args.height or args.size
    if width < 16 or height < 16 or width > 8192 or height > 8192:
        raise X3DError(f"output size must be between 16 and 8192 pixels, got {width}x{height}")

    sequence = FlameSequence.load(args.params)
    bar = tqdm(total=sequence.num_frames, desc="FLAME", unit="frame", disable=args.no_progress)
    vertices, faces = flame_vertices(sequence, progress=lambda done, total: bar.update(done - bar.n))
    bar.close()
    timings["flame_s"] = time.perf_counter() - started

    audio = None
    if args.audio is not None:
        from ..audio.io import load_audio

        audio = load_audio(args.audio)  # 16 kHz mono
    sample_rate = 16000

    camera_name = args.camera or ("fitted" if sequence.cam is not None else "static")
    if camera_name == "fitted" and sequence.cam is None:
        raise X3DError(f"{args.params} has no camera ('cam' array); use --camera static (or another preset)")

    fps = sequence.fps
    render_vertices, cam_values = vertices, sequence.cam
    wan_info = None
    if args.wan:
        preset = get_wan_preset(args.wan)
        width, height = wan_size(width, height, preset.multiple)
        clip = prepare_for_wan(vertices, fps, preset, audio, sample_rate, args.length, "trim" if args.trim else "pad")
        if cam_values is not None:
            cam_values = fit_frame_count(resample_frames(cam_values, fps, preset.fps), clip.frames.shape[0])
        render_vertices, fps, audio = clip.frames, clip.fps, clip.audio
        wan_info = {"preset": preset.name, "frames": int(clip.frames.shape[0]), "motion_frames": clip.source_frames}
    elif audio is not None:
        audio = fit_audio(audio, sample_rate, render_vertices.shape[0], fps)
    num_frames = render_vertices.shape[0]

    if camera_name == "fitted":
        camera = cams.orthographic_from_emoca(cam_values)
    else:
        framing = cams.Framing.fit(render_vertices, fov_deg=args.fov)
        camera = cams.camera_preset(camera_name, framing, num_frames, fps)

    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    depth_range = measure_depth_range(render_vertices, faces, camera, width, height)
    outputs = ("depth", "shaded") + (("normals",) if args.normals else ())
    writers = {
        "shaded": Mp4Writer(args.out / "preview.mp4", fps, audio, sample_rate),
        "depth": Mp4Writer(args.out / "depth.mp4", fps, audio, sample_rate),
    }
    if args.normals:
        writers["normals"] = Mp4Writer(args.out / "normals.mp4", fps, audio, sample_rate)
    if args.mask:
        writers["mask"] = Mp4Writer(args.out / "mask.mp4", fps, audio, sample_rate)
    bar = tqdm(total=num_frames, desc="render", unit="frame", disable=args.no_progress)
    try:
        for start in range(0, num_frames, CHUNK_FRAMES):
            stop = min(start + CHUNK_FRAMES, num_frames)
            frames = render_sequence(
                render_vertices[start:stop], faces, camera.slice(start, stop), width, height, outputs=outputs,
                depth_range=depth_range, background=background,
            )
            for name, writer in writers.items():
                writer.write(frames.mask if name == "mask" else getattr(frames, name))
            bar.update(stop - start)
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
    if not args.no_glb:
        written.append(str(export_glb(args.out / "mesh.glb", vertices, faces, sequence.fps)))
    if args.obj:
        written.append(str(export_obj_sequence(args.out / "mesh_obj.zip", vertices, faces, sequence.fps)))
    timings["export_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started

    report = {
        "params": str(args.params),
        "frames": num_frames,
        "fps": fps,
        "width": width,
        "height": height,
        "camera": camera_name,
        "depth_range_m": [depth_range.near, depth_range.far],
        "depth_mapping": f"value = {DEFAULT_DEPTH_FLOOR} + {1 - DEFAULT_DEPTH_FLOOR:g} * (far - z) / (far - near) "
        "on the head, 0 on the background",
        "wan": wan_info,
        "audio": str(args.audio) if args.audio else None,
        "files": written,
        "timings": timings,
        "render_fps": num_frames / max(timings["render_encode_s"], 1e-9),
    }
    with atomic_path(args.out / "render.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    for path in written:
        print(path)
    log.info("rendered %d frames at %dx%d in %.1f s", num_frames, width, height, timings["total_s"])
    return 0
