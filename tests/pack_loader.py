"""Import the pack root as a package (the way ComfyUI does), without ComfyUI."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACK = "x3dtalker_pack"


def load_pack():
    """The repo root as package ``x3dtalker_pack``: ``.nodes.logic`` and ``.x3dtalker_core`` import under it."""
    if PACK in sys.modules:
        return sys.modules[PACK]
    spec = importlib.util.spec_from_file_location(PACK, REPO / "__init__.py", submodule_search_locations=[str(REPO)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK] = module
    spec.loader.exec_module(module)
    return module


def pack_module(name: str):
    """``pack_module("nodes.logic.render")`` -> that module of the pack."""
    load_pack()
    return importlib.import_module(f"{PACK}.{name}")
