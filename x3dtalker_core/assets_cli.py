"""``assets status`` and ``assets install-flame``."""

from __future__ import annotations

import argparse
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from .assets import ASSETS, asset_status, default_install_dir, search_folders
from .errors import X3DError
from .io_utils import atomic_path

# Files an official FLAME (or masks/embedding) download may contain, and the asset each one is.
INSTALLABLE = {
    "generic_model.pkl": "flame_model",
    "flame2023.pkl": "flame_model",
    "flame2023_no_jaw.pkl": "flame_model",
    "generic_model.npz": "flame_model",
    "flame2023.npz": "flame_model",
    "FLAME_masks.pkl": "flame_masks",
    "landmark_embedding.npy": "landmark_embedding",
    "mediapipe_landmark_embedding.npz": "mediapipe_embedding",
    "head_template.obj": "head_template",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="list or install model assets (FLAME, checkpoints, encoders)")
    asub = p.add_subparsers(dest="assets_command", metavar="<assets command>", required=True)

    s = asub.add_parser("status", help="table of every asset: found/missing, path, license, how to get it")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("--check", action="store_true", help="exit 1 when a required asset is missing")
    s.set_defaults(func=cmd_status)

    i = asub.add_parser(
        "install-flame",
        help="install a FLAME download (official zip, .pkl or .npz) into the model folder",
        description="Validates the FLAME model (shapes, safe unpickling) and copies it into the 'flame' model "
        "folder: ComfyUI's models/flame when run inside ComfyUI, else $X3DTALKER_MODELS/flame, else the user "
        "cache. A zip is searched for generic_model.pkl, flame2023*.pkl, FLAME_masks.pkl and embeddings.",
    )
    i.add_argument("path", help="FLAME2020.zip / FLAME2023.zip, generic_model.pkl, flame2023.pkl or .npz")
    i.add_argument("--dest", help="target folder (default: the first existing 'flame' model folder)")
    i.add_argument("--to-npz", action="store_true", help="store model files as plain .npz (no pickle needed later)")
    i.add_argument("--force", action="store_true", help="overwrite files that already exist")
    i.set_defaults(func=cmd_install_flame)

    m = asub.add_parser(
        "install-mediapipe",
        help="install MediaPipe's face detector and face-mesh models (Apache-2.0) for the photo -> FLAME fit",
        description="Copies the three face .tflite models out of the mediapipe 0.10.21 wheel into the 'mediapipe' "
        "model folder. MediaPipe itself is never installed (it pins numpy<2); the models run on ai-edge-litert. "
        "Without --wheel, the wheel is fetched from PyPI with pip (once, into a temporary folder).",
    )
    m.add_argument("--wheel", help="a downloaded mediapipe-0.10.21 wheel (or unpacked package folder)")
    m.add_argument("--dest", help="target folder (default: the first existing 'mediapipe' model folder)")
    m.set_defaults(func=cmd_install_mediapipe)


def cmd_status(args: argparse.Namespace) -> int:
    rows = asset_status()
    if args.json:
        print(json.dumps([
            {"asset": r.asset.name, "found": r.found, "path": str(r.path) if r.path else None,
             "required": r.asset.required, "license": r.asset.license, "source": r.asset.source,
             "searched": [str(f) for f in search_folders(r.asset.folder)], "note": r.note}
            for r in rows
        ], indent=1))
    else:
        width = max(len(r.asset.name) for r in rows)
        for r in rows:
            state = "found" if r.found else ("MISSING" if r.asset.required else "missing (optional)")
            print(f"{r.asset.name:<{width}}  {state:<18}  {r.path if r.path else '-'}")
            if r.note:
                print(f"{'':<{width}}  note: {r.note}")
            if not r.found:
                print(f"{'':<{width}}  get it: {r.asset.source}; license: {r.asset.license}")
        folders = sorted({a.folder for a in ASSETS.values()})
        print("\nsearched: " + "; ".join(f"{k}: " + ", ".join(str(p) for p in search_folders(k)) for k in folders))
    missing = [r.asset.name for r in rows if r.asset.required and not r.found]
    return 1 if (args.check and missing) else 0


def _validate(path: Path, asset: str) -> None:
    """Load the file with the project's own readers so a broken download is refused before copying."""
    from .flame import load_deca68_embedding, load_flame_data, load_masks, load_mediapipe_embedding

    if asset == "flame_model":
        data = load_flame_data(path)
        if data.num_vertices != 5023:
            raise X3DError(f"{path}: {data.num_vertices} vertices; FLAME has 5023 — is this a FLAME model?")
    elif asset == "flame_masks":
        load_masks(path)
    elif asset == "landmark_embedding":
        load_deca68_embedding(path)
    elif asset == "mediapipe_embedding":
        load_mediapipe_embedding(path)


def _install_file(src: Path, name: str, dest: Path, to_npz: bool, force: bool) -> Path:
    from .flame import read_flame_arrays

    asset = INSTALLABLE[name]
    _validate(src, asset)
    target = dest / name
    if to_npz and asset == "flame_model" and src.suffix == ".pkl":
        target = dest / (Path(name).stem + ".npz")
    if target.exists() and not force:
        raise X3DError(f"{target} already exists; pass --force to overwrite it")
    with atomic_path(target) as tmp:
        if target.suffix == ".npz" and src.suffix == ".pkl":
            arrays = {k: np.asarray(v) for k, v in read_flame_arrays(src).items()
                      if isinstance(v, (np.ndarray, str, int, float))}
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        else:
            shutil.copyfile(src, tmp)
    return target


def cmd_install_flame(args: argparse.Namespace) -> int:
    import tempfile

    src = Path(args.path).expanduser()
    if not src.is_file():
        raise X3DError(f"{src} does not exist or is not a file")
    dest = Path(args.dest).expanduser() if args.dest else default_install_dir("flame")
    dest.mkdir(parents=True, exist_ok=True)
    installed: list[Path] = []
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf, tempfile.TemporaryDirectory() as tmp:
            members = [m for m in zf.namelist() if Path(m).name in INSTALLABLE and not m.endswith("/")]
            if not members:
                raise X3DError(f"{src} contains none of {', '.join(INSTALLABLE)}; is it the FLAME download?")
            for m in members:
                extracted = Path(tmp) / Path(m).name
                with zf.open(m) as fin, open(extracted, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                installed.append(_install_file(extracted, extracted.name, dest, args.to_npz, args.force))
    else:
        name = src.name if src.name in INSTALLABLE else None
        if name is None:
            if src.suffix.lower() not in (".pkl", ".npz"):
                raise X3DError(f"{src}: expected a FLAME .zip, .pkl or .npz")
            name = "generic_model.pkl" if src.suffix.lower() == ".pkl" else "generic_model.npz"
        installed.append(_install_file(src, name, dest, args.to_npz, args.force))
    for p in installed:
        print(f"installed {p}")
    return 0


MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
"""The newest MediaPipe release that bundles its face-mesh models (later ones download them)."""


def cmd_install_mediapipe(args: argparse.Namespace) -> int:
    import glob
    import subprocess
    import sys
    import tempfile

    from .reconstruct.detector import install_mediapipe_models

    with tempfile.TemporaryDirectory() as tmp:
        source = args.wheel
        if source is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp,
                   MEDIAPIPE_WHEEL]
            done = subprocess.run(cmd, capture_output=True, text=True)
            wheels = glob.glob(f"{tmp}/mediapipe-*.whl")
            if done.returncode != 0 or not wheels:
                reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no wheel"]
                raise X3DError(f"could not download {MEDIAPIPE_WHEEL} with pip ({reason[0]}); download the wheel "
                               "for your platform yourself and pass --wheel PATH")
            source = wheels[0]
        for path in install_mediapipe_models(source, args.dest):
            print(f"installed {path}")
    return 0
