"""``render`` command: a parameter file -> preview.mp4, depth.mp4, mesh.glb (SPEC §6, §8).

    python -m x3dtalker_core render --params params.npz --out out/ --audio speech.wav \
        [--size 512] [--camera fitted|static|orbit|dolly|pan|keys:...] [--wan 14b|5b]
"""

from __future__ import annotations

import argparse
from pathlib import Path


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
    add_render_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run_render)


def add_render_arguments(p: argparse.ArgumentParser) -> None:
    """Render options shared by ``render`` and ``generate``."""
    p.add_argument("--size", type=int, default=512, help="square output size in pixels (default 512)")
    p.add_argument("--width", type=int, help="output width (overrides --size)")
    p.add_argument("--height", type=int, help="output height (overrides --size)")
    p.add_argument(
        "--camera",
        default=None,
        help="'photo' (lines up with the whole reference photo; default for sequences made from a photo), "
        "'fitted' (the EMOCA face-crop camera), 'static', 'orbit', 'dolly', 'pan' or a keyframed path "
        "'keys:0:yaw=0;2.5:yaw=20,pitch=5,zoom=0.8'",
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
    p.add_argument("--glb-mode", choices=["rigged", "exact"], default="rigged",
                   help="mesh.glb as a rig (FLAME joints + named expression morph targets, size nearly constant "
                   "in length; default) or exact (every frame's vertices)")


def _parse_colour(text: str) -> tuple[float, float, float]:
    from ..errors import X3DError

    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0.0 <= v <= 1.0 for v in values):
        raise X3DError(f"--background must be three numbers in [0, 1] like '0.1,0.1,0.1', got {text!r}")
    return values  # type: ignore[return-value]


def settings_from_args(args: argparse.Namespace):
    """The render options shared by ``render`` and ``generate``."""
    from .files import RenderSettings

    return RenderSettings(
        width=args.width or args.size, height=args.height or args.size, camera=args.camera, fov_deg=args.fov,
        wan=args.wan, wan_length=args.length, wan_trim=args.trim, background=_parse_colour(args.background),
        normals=args.normals, mask=args.mask, glb=not args.no_glb, glb_mode=args.glb_mode, obj=args.obj,
    )


def run_render(args: argparse.Namespace) -> int:
    from ..params import FlameSequence
    from .files import render_to_files

    sequence = FlameSequence.load(args.params)
    audio = None
    if args.audio is not None:
        from ..audio.io import load_audio

        audio = load_audio(args.audio)  # 16 kHz mono
    report = render_to_files(
        sequence, args.out, settings_from_args(args), audio=audio, show_progress=not args.no_progress,
        sources={"params": str(args.params), "audio": str(args.audio) if args.audio else None},
    )
    for path in report["files"]:
        print(path)
    return 0
