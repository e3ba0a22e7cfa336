"""Asset registry and resolver: the one place that finds model files on disk.

Search order for an asset stored under folder key ``K`` (``flame``, ``3dxtalker``):

1. ComfyUI's registered model folders for ``K`` when running inside ComfyUI (the ``folder_paths``
   module is loaded; ``extra_model_paths.yaml`` entries included);
2. ``$X3DTALKER_MODELS/K``;
3. the per-user cache ``$XDG_CACHE_HOME/x3dtalker/models/K`` (``~/.cache/...``).

Nothing is downloaded at run time. A missing asset raises :class:`AssetNotFoundError` naming the
file, every folder searched, where to get it and its license.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import AssetNotFoundError

ENV_MODELS = "X3DTALKER_MODELS"

FLAME_SITE = "https://flame.is.tue.mpg.de (free registration)"
FLAME_LICENSE = "CC BY 4.0 + FLAME terms (cite FLAME)"


@dataclass(frozen=True)
class Asset:
    """A named file or folder the pack can use.

    Attributes:
        name: registry key, e.g. ``flame_model``.
        folder: model folder key (a ComfyUI ``models/<folder>`` name).
        candidates: accepted file or folder names, most preferred first (may contain ``/``).
        description: what it is, in a few words.
        source: where to get it.
        license: its license.
        required: whether the main job needs it (``assets status`` marks the rest optional).
        is_dir: the asset is a folder (a Hugging Face model directory, say), not a file.
        bundled: a file shipped inside this package (relative to it), used when no folder has one.
    """

    name: str
    folder: str
    candidates: tuple[str, ...]
    description: str
    source: str
    license: str
    required: bool = False
    is_dir: bool = False
    bundled: str | None = None


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset(
            "flame_model", "flame",
            ("generic_model.pkl", "flame2023.pkl", "flame2023_no_jaw.pkl", "generic_model.npz", "flame2023.npz",
             "flame_dev.npz"),
            "FLAME head model (FLAME 2020 generic_model.pkl or FLAME 2023; flame_dev.npz is a development stand-in)",
            f"{FLAME_SITE}; then `python -m x3dtalker_core assets install-flame <download>`",
            FLAME_LICENSE, required=True,
        ),
        Asset(
            "flame_masks", "flame", ("FLAME_masks.pkl", "FLAME_masks_plain.npz"),
            "FLAME vertex region masks (lips, forehead, eye_region, nose, face, ...)",
            f"{FLAME_SITE}, 'FLAME Vertex Masks' download", FLAME_LICENSE, required=True,
        ),
        Asset(
            "landmark_embedding", "flame", ("landmark_embedding.npy", "landmark_embedding_plain.npz"),
            "DECA 68-point FLAME landmark embedding",
            "DECA / EMOCA data folder (github.com/yfeng95/DECA, data/landmark_embedding.npy)",
            "DECA license (non-commercial research)", required=True,
        ),
        Asset(
            "mediapipe_embedding", "flame", ("mediapipe_landmark_embedding.npz",),
            "MediaPipe face-mesh to FLAME landmark embedding (105 points)",
            f"{FLAME_SITE}, 'MediaPipe Landmark Embedding' download", FLAME_LICENSE, required=True,
        ),
        Asset(
            "head_template", "flame", ("head_template.obj",),
            "FLAME template mesh with UV coordinates (textured exports)",
            f"{FLAME_SITE} or DECA data folder", FLAME_LICENSE,
        ),
        Asset(
            "generator", "3dxtalker", ("generator.safetensors", "3dxtalker.safetensors", "*.safetensors"),
            "3DXTalker flow-matching generator checkpoint (safetensors + JSON config)",
            "trained with `python -m x3dtalker_core train`; a bootstrap checkpoint ships with the pack",
            "MIT (this project)", bundled="checkpoints/3dxtalker_bootstrap.safetensors",
        ),
        Asset(
            "wavlm", "3dxtalker", ("wavlm-base-plus",),
            "WavLM Base+ audio encoder folder (config.json, preprocessor_config.json, weights)",
            "huggingface.co/microsoft/wavlm-base-plus (save the repo folder as wavlm-base-plus)",
            "MIT", is_dir=True,
        ),
        Asset(
            "emotion2vec", "3dxtalker", ("emotion2vec_plus_base",),
            "emotion2vec+ base emotion encoder folder (FunASR format: model.pt, config.yaml)",
            "huggingface.co/emotion2vec/emotion2vec_plus_base or modelscope iic/emotion2vec_plus_base",
            "emotion2vec model license (see its model card)", is_dir=True,
        ),
        Asset(
            "mediapipe_face_detector", "mediapipe", ("face_detection_short_range.tflite",),
            "MediaPipe BlazeFace short-range face detector (reference-photo backend 'landmarks')",
            "mediapipe 0.10.21 wheel: `pip download mediapipe==0.10.21 --no-deps -d /tmp/mp`, then "
            "`python -m x3dtalker_core assets install-mediapipe`",
            "Apache-2.0",
        ),
        Asset(
            "mediapipe_face_detector_full", "mediapipe", ("face_detection_full_range_sparse.tflite",),
            "MediaPipe BlazeFace full-range face detector (small faces)",
            "mediapipe 0.10.21 wheel (see mediapipe_face_detector)", "Apache-2.0",
        ),
        Asset(
            "mediapipe_face_mesh", "mediapipe", ("face_landmark.tflite",),
            "MediaPipe 468-point face mesh landmark model",
            "mediapipe 0.10.21 wheel (see mediapipe_face_detector)", "Apache-2.0",
        ),
        Asset(
            "emoca", "3dxtalker", ("EMOCA_v2_lr_mse_20",),
            "EMOCA v2 face reconstruction checkpoint folder",
            "EMOCA project (emoca.is.tue.mpg.de, registration), models/EMOCA_v2_lr_mse_20",
            "EMOCA license (non-commercial research)", is_dir=True,
        ),
        Asset(
            "whisper", "3dxtalker",
            ("whisper/large-v3.pt", "whisper/large-v3-turbo.pt", "whisper/medium.pt", "whisper/small.pt",
             "whisper/base.pt", "whisper/tiny.pt"),
            "openai-whisper multilingual checkpoint (language filter of `curate`)",
            "openai-whisper's published checkpoints (e.g. base.pt, saved under whisper/)", "MIT",
        ),
        Asset(
            "syncnet", "3dxtalker", ("syncnet/syncnet_v2.model", "syncnet_v2.model"),
            "SyncNet audio-visual sync model (sync filter of `curate`)",
            "joonson/syncnet_python release: data/syncnet_v2.model (saved under syncnet/)",
            "syncnet_python license (MIT)",
        ),
    ]
}


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "x3dtalker" / "models"


def search_folders(folder: str) -> list[Path]:
    """Every folder searched for model folder key ``folder``, in priority order (may not exist)."""
    found: list[Path] = []
    # Inside ComfyUI `folder_paths` is already imported by the server; outside it never is, and the
    # core must not import ComfyUI itself.
    folder_paths = sys.modules.get("folder_paths")
    if folder_paths is not None:
        try:
            found.extend(Path(p) for p in folder_paths.get_folder_paths(folder))
        except (KeyError, AttributeError):
            pass
    env = os.environ.get(ENV_MODELS)
    if env:
        found.extend(Path(p).expanduser() / folder for p in env.split(os.pathsep) if p)
    found.append(user_cache_dir() / folder)
    unique: list[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def default_install_dir(folder: str) -> Path:
    """Where installers write: the first existing ComfyUI/env folder, else the user cache."""
    folders = search_folders(folder)
    for p in folders:
        if p.is_dir():
            return p
    return folders[0]


PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_CHECKPOINTS = PACKAGE_DIR / "checkpoints"
GENERATOR_FORMAT = "x3dtalker-generator"
BOOTSTRAP_PREFIX = "3dxtalker_bootstrap"


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str] | None:
    """The ``__metadata__`` of a ``.safetensors`` file from its header alone (no weights read, no torch).

    Returns None for anything that is not a readable safetensors file.
    """
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            if size > 64 * 1024 * 1024:
                return None
            header = json.loads(f.read(size))
    except (OSError, struct.error, ValueError):
        return None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def is_generator_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a 3DXTalker generator checkpoint (by its header; encoder weights etc. are not)."""
    meta = safetensors_metadata(path)
    return meta is not None and meta.get("format") == GENERATOR_FORMAT


def is_bootstrap_checkpoint(path: str | os.PathLike) -> bool:
    """A bootstrap checkpoint (the one shipped with the pack, wherever a copy of it lies)."""
    return Path(path).name.startswith(BOOTSTRAP_PREFIX)


def generator_checkpoints() -> list[Path]:
    """Every generator checkpoint installed, the one to use by default first.

    Trained checkpoints beat bootstrap ones wherever they lie: ``generator.safetensors`` (what
    ``train`` writes) and ``3dxtalker.safetensors`` first, then any other generator checkpoint, newest
    first, each in folder search order; then bootstrap checkpoints (copies in a model folder before the
    ones bundled with the pack). Only files directly in a ``3dxtalker`` folder count, and only those whose
    header says they are generator checkpoints.
    """
    preferred = ASSETS["generator"].candidates[:-1]
    trained: list[tuple[tuple, Path]] = []
    bootstrap: list[tuple[tuple, Path]] = []
    seen: set[Path] = set()
    folders = [f for f in search_folders("3dxtalker") if f.resolve() != BUNDLED_CHECKPOINTS] + [BUNDLED_CHECKPOINTS]
    for rank, folder in enumerate(folders):
        if not folder.is_dir():
            continue
        for p in folder.glob("*.safetensors"):
            key = p.resolve()
            if key in seen or not p.is_file() or not is_generator_checkpoint(p):
                continue
            seen.add(key)
            if is_bootstrap_checkpoint(p):
                # The bundled default first: a stale copy of an older bootstrap must not shadow a newer one.
                bundled_default = Path(ASSETS["generator"].bundled or "").name
                bootstrap.append(((p.name != bundled_default, rank, -p.stat().st_mtime, p.name), p))
            else:
                order = preferred.index(p.name) if p.name in preferred else len(preferred)
                trained.append(((order, rank, -p.stat().st_mtime, p.name), p))
    return [p for _, p in sorted(trained, key=lambda x: x[0])] + [p for _, p in sorted(bootstrap, key=lambda x: x[0])]


def _lookup(asset: Asset) -> Path | None:
    if asset.name == "generator":
        found = generator_checkpoints()
        return found[0] if found else None
    for root in search_folders(asset.folder):
        for name in asset.candidates:
            p = root / name
            if (p.is_dir() if asset.is_dir else p.is_file()):
                return p
    if asset.bundled and (PACKAGE_DIR / asset.bundled).is_file():
        return PACKAGE_DIR / asset.bundled
    return None


def find_asset(name: str, override: str | os.PathLike | None = None) -> Path:
    """Path of asset ``name``; ``override`` (a user-given path) wins when set.

    Raises:
        AssetNotFoundError: naming the file, every folder searched, the source and the license.
    """
    if name not in ASSETS:
        raise KeyError(f"unknown asset {name!r}; known: {', '.join(ASSETS)}")
    asset = ASSETS[name]
    if override:
        p = Path(override).expanduser()
        if p.exists():
            return p
        raise AssetNotFoundError(f"{asset.description}: {p} does not exist")
    p = _lookup(asset)
    if p is not None:
        return p
    folders = ", ".join(str(f) for f in search_folders(asset.folder))
    raise AssetNotFoundError(
        f"{asset.description} not found: looked for {' / '.join(asset.candidates)} in {folders}. "
        f"Get it from {asset.source} (license: {asset.license}); set ${ENV_MODELS} to a folder that has "
        f"a '{asset.folder}/' subfolder, or put it in ComfyUI's models/{asset.folder}/."
    )


def try_find_asset(name: str) -> Path | None:
    """Like :func:`find_asset` but returns None when missing."""
    try:
        return find_asset(name)
    except AssetNotFoundError:
        return None


@dataclass(frozen=True)
class AssetStatus:
    asset: Asset
    path: Path | None
    note: str = ""

    @property
    def found(self) -> bool:
        return self.path is not None


def asset_status() -> list[AssetStatus]:
    """Status of every registered asset (found/missing, path, notes such as 'development model')."""
    rows = []
    for asset in ASSETS.values():
        path = _lookup(asset)
        note = ""
        if asset.name == "flame_model" and path is not None and path.name == "flame_dev.npz":
            note = "development head: stand-in shape/expression bases, not FLAME's PCA (dev/tests only)"
        elif asset.name == "generator" and path is not None and is_bootstrap_checkpoint(path):
            note = "bootstrap checkpoint bundled with the pack (trained on synthetic speech; see its model card)"
        rows.append(AssetStatus(asset, path, note))
    return rows
