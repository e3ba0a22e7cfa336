"""A minimal stand-in for ``comfy_api.latest`` and ``folder_paths``, to import and call the pack's nodes
without ComfyUI (the real server is covered by ``tests/comfyui/`` and ``test_nodes_comfy.py``).

``define_schema`` returns a dict of what it declared; each input/output records its name, type and options.
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Iterator


class _Socket:
    def __init__(self, type_name: str):
        self.type_name = type_name

    def Input(self, name, optional=False, tooltip=None, **kw):  # noqa: N802 (ComfyUI's API spelling)
        return {"name": name, "optional": optional, "tooltip": tooltip, "type": self.type_name, **kw}

    def Output(self, display_name=None, **kw):  # noqa: N802
        return {"display_name": display_name, "type": self.type_name, **kw}


class _IO(types.ModuleType):
    class ComfyNode:
        pass

    class Schema(dict):
        def __init__(self, **kw):
            super().__init__(**kw)

    class NodeOutput:
        def __init__(self, *values, ui=None):
            self.values, self.ui = values, ui

    Hidden = types.SimpleNamespace(unique_id="UNIQUE_ID")

    @staticmethod
    def Custom(name):  # noqa: N802
        return _Socket(name)

    def __getattr__(self, name):
        return _Socket(name.upper())


@contextlib.contextmanager
def comfy_stand_in(pack_name: str, folder_paths: types.SimpleNamespace) -> Iterator[None]:
    """Install the stand-in modules (``folder_paths`` as given) for the duration of the block, then restore
    what was there and drop the pack's node modules built against them (a real ComfyUI import must rebuild
    them)."""
    names = ("comfy_api", "comfy_api.latest", "folder_paths")
    saved = {k: sys.modules.get(k) for k in names}
    latest = types.ModuleType("comfy_api.latest")
    latest.io = _IO("io")
    latest.ui = types.SimpleNamespace(PreviewText=lambda *a, **k: None)
    latest.ComfyExtension = object
    sys.modules.update({"comfy_api": types.ModuleType("comfy_api"), "comfy_api.latest": latest,
                        "folder_paths": folder_paths})
    try:
        yield
    finally:
        for name in [m for m in sys.modules if m.startswith(f"{pack_name}.nodes") and "logic" not in m]:
            sys.modules.pop(name)
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
