"""ComfyUI nodes of 3DXTalker: thin V3 adapters over ``x3dtalker_core``.

Each area module (``flame``, ``audio``, ...) exposes ``NODES``, a list of ``io.ComfyNode`` classes.
An area whose optional dependencies are missing logs a warning and is skipped, so the rest of the
pack still loads.
"""

from __future__ import annotations

import importlib
import logging
import os

from comfy_api.latest import ComfyExtension, io

log = logging.getLogger("3DXTalker")

AREAS = ("flame",)

MODEL_FOLDERS = {
    "flame": "FLAME model, masks and landmark embeddings",
    "3dxtalker": "3DXTalker generator checkpoints and encoder folders (wavlm-base-plus, emotion2vec_plus_base, EMOCA)",
}


def register_model_folders() -> None:
    """Register ``models/flame`` and ``models/3dxtalker`` with ComfyUI (extra_model_paths.yaml works too)."""
    import folder_paths

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


def collect_nodes() -> list[type[io.ComfyNode]]:
    nodes: list[type[io.ComfyNode]] = []
    for area in AREAS:
        try:
            module = importlib.import_module(f".{area}", __name__)
        except ImportError as exc:
            log.warning("3DXTalker: %s nodes disabled (%s)", area, exc)
            continue
        nodes.extend(module.NODES)
    return nodes


class X3DTalkerExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return collect_nodes()
