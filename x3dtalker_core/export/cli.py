"""``export`` command: a parameter file -> Live Link Face CSV, Audio2Face / LAM JSON, rigged or exact GLB.

    python -m x3dtalker_core export --params out/params.npz --out out/ --format livelink,a2f,lam,glb
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a FLAME parameter file for Unreal/MetaHuman, Blender, Audio2Face and LAM (ARKit-52, GLB)",
        description="Export a FLAME parameter sequence (.npz) as a Live Link Face CSV (livelink.csv), an "
        "Audio2Face blendshape JSON (a2f_blendshapes.json), a LAM-style ARKit JSON (arkit_blendshapes.json) "
        "and/or a rigged animated GLB (mesh.glb). FLAME-PCA sequences are solved to ARKit-52 weights; "
        "sequences that speak ARKit pass through.",
    )
    p.add_argument("--params", required=True, type=Path, help="parameter file (.npz, FlameSequence.save layout)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--format", default="livelink", help="comma-separated: livelink, a2f, lam, glb (default livelink)")
    p.add_argument("--flame", type=Path, help="FLAME model file the parameters belong to (default: the installed one)")
    p.add_argument("--fps", type=int, default=60, choices=[60, 30], help="Live Link Face take rate (default 60)")
    p.add_argument("--no-app-mirroring", action="store_true",
                   help="write mouthLeft/mouthRight under their own names (the iPhone app swaps them; default: as the app)")
    p.add_argument("--json-fps", type=float, help="frame rate of the a2f/lam JSON (default: the sequence's)")
    p.add_argument("--glb-mode", choices=["rigged", "exact"], default="rigged",
                   help="rigged: FLAME joints + named morph targets, size nearly constant in length (default); "
                   "exact: the meshes of every frame")
    p.add_argument("--temporal", type=float, default=0.05, help="ARKit solve: temporal smoothing weight")
    p.add_argument("--symmetry", type=float, default=0.02, help="ARKit solve: left/right symmetry weight")
    p.add_argument("--audio", default="", help="audio file named in the Audio2Face JSON (trackPath)")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from ..errors import X3DError
    from ..flame import load_flame_model
    from ..params import FlameSequence
    from .files import FORMATS, ExportOptions, export_files

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    if not formats:
        raise X3DError(f"--format is empty; choose from {', '.join(FORMATS)}")
    sequence = FlameSequence.load(args.params)
    model = load_flame_model(args.flame, landmarks=False)
    options = ExportOptions(livelink_fps=args.fps, app_mouth_mirroring=not args.no_app_mirroring,
                            json_fps=args.json_fps, glb_mode=args.glb_mode, temporal=args.temporal,
                            symmetry=args.symmetry, track_path=args.audio)
    report = export_files(sequence, model, args.out, formats, options)
    print(json.dumps(report, indent=2))
    return 0
