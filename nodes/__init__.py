"""ComfyUI nodes of 3DXTalker: thin V3 adapters over ``x3dtalker_core``.

Layout:

* ``logic/``: what each node does, as plain functions of plain values (no ComfyUI import), so it
  is tested without ComfyUI;
* ``flame.py``, ``reference.py``, ``audio.py``, ``generate.py``, ``control.py``, ``render.py``:
  one ``io.ComfyNode`` class per node; each area module exposes ``NODES``;
* ``comfy_hooks.py``: progress bars, interruption and devices through ComfyUI;
* ``extension.py``: the ``ComfyExtension`` that ComfyUI loads.

Nothing here imports ComfyUI at import time; an area whose optional dependencies are missing logs
a warning and is skipped, so the rest of the pack still loads.
"""

from __future__ import annotations

import importlib
import logging
import os

log = logging.getLogger("3DXTalker")

AREAS = ("flame", "reference", "audio", "generate", "control", "render", "export")

MODEL_FOLDERS = {
    "flame": "FLAME model, masks and landmark embeddings",
    "3dxtalker": "3DXTalker generator checkpoints and encoder folders (wavlm-base-plus, emotion2vec_plus_base, EMOCA)",
    "mediapipe": "MediaPipe face detector and face-mesh .tflite models (reference-photo backend 'landmarks')",
}


def register_model_folders() -> None:
    """Register ``models/flame``, ``models/3dxtalker`` and ``models/mediapipe`` with ComfyUI.

    ``extra_model_paths.yaml`` entries for the same keys work too. The pack's own checkpoint folder
    (the bundled bootstrap generator) is registered last under ``3dxtalker``, so a fresh install
    offers it and anything a user puts in ``models/3dxtalker`` is listed before it.
    """
    import folder_paths

    from ..x3dtalker_core.assets import BUNDLED_CHECKPOINTS

    env_roots = [p for p in os.environ.get("X3DTALKER_MODELS", "").split(os.pathsep) if p]
    for key in MODEL_FOLDERS:
        path = os.path.join(folder_paths.models_dir, key)
        if key not in folder_paths.folder_names_and_paths or path not in folder_paths.get_folder_paths(key):
            folder_paths.add_model_folder_path(key, path, is_default=True)
        # $X3DTALKER_MODELS is searched by the core resolver; listing it here puts its files in the dropdowns too.
        for root in env_roots:
            extra = os.path.join(os.path.expanduser(root), key)
            if os.path.isdir(extra) and extra not in folder_paths.get_folder_paths(key):
                folder_paths.add_model_folder_path(key, extra)
    if str(BUNDLED_CHECKPOINTS) not in folder_paths.get_folder_paths("3dxtalker"):
        folder_paths.add_model_folder_path("3dxtalker", str(BUNDLED_CHECKPOINTS))


def collect_nodes() -> list:
    """Every node class of every area that imports (``io.ComfyNode`` subclasses)."""
    nodes: list = []
    for area in AREAS:
        try:
            module = importlib.import_module(f".{area}", __name__)
        except ImportError as exc:
            log.warning("3DXTalker: %s nodes disabled (%s)", area, exc)
            continue
        nodes.extend(module.NODES)
    return nodes
