"""The Export node without ComfyUI: a minimal stand-in for ``comfy_api.latest`` and ``folder_paths``."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from helpers import shared_models_dir, talking_sequence
from pack_loader import load_pack


class _Socket:
    def Input(self, name, **kw):  # noqa: N802 (ComfyUI's spelling)
        return {"name": name, **kw}

    def Output(self, **kw):  # noqa: N802
        return kw


class _IO(types.ModuleType):
    class ComfyNode:
        pass

    class Schema(dict):
        def __init__(self, **kw):
            super().__init__(**kw)

    class NodeOutput:
        def __init__(self, *values, ui=None):
            self.values, self.ui = values, ui

    @staticmethod
    def Custom(name):  # noqa: N802
        return _Socket()

    def __getattr__(self, name):
        return _Socket()


@pytest.fixture
def export_node(tmp_path):
    if shared_models_dir() is None:
        pytest.skip("X3DTALKER_MODELS does not point at a folder with flame/")
    names = ("comfy_api", "comfy_api.latest", "folder_paths")
    saved = {k: sys.modules.get(k) for k in names}
    latest = types.ModuleType("comfy_api.latest")
    latest.io, latest.ui, latest.ComfyExtension = _IO("io"), types.SimpleNamespace(), object
    sys.modules.update({"comfy_api": types.ModuleType("comfy_api"), "comfy_api.latest": latest,
                        "folder_paths": types.SimpleNamespace(get_output_directory=lambda: str(tmp_path))})
    pack = load_pack()
    try:
        module = importlib.import_module(f"{pack.__name__}.nodes.export")
        flame = importlib.import_module(f"{pack.__name__}.x3dtalker_core.flame").load_flame_model(landmarks=False)
        yield module.ExportARKit, flame
    finally:
        for name in [m for m in sys.modules if m.startswith(f"{pack.__name__}.nodes") and "logic" not in m]:
            sys.modules.pop(name)  # built against the stand-in; a real ComfyUI import must rebuild them
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_export_node_writes_numbered_files(tmp_path, export_node):
    node, flame = export_node
    assert node.define_schema()["node_id"] == "X3DTalker_ExportARKit"
    seq = talking_sequence(20)
    take = node.execute(seq, flame, format="livelink", livelink_fps="30")
    assert take.values == ("3dxtalker/take_00001_.csv",)
    assert (tmp_path / "3dxtalker/take_00001_.csv").read_text().startswith("Timecode,BlendShapeCount,EyeBlinkLeft")
    assert "mm RMS" in take.ui["text"][1]
    glb = node.execute(seq, flame, format="glb", filename_prefix="3dxtalker/head")
    assert glb.values == ("3dxtalker/head_00001_.glb",) and (tmp_path / "3dxtalker/head_00001_.glb").stat().st_size > 0
    assert glb.ui["files"] == [{"filename": "head_00001_.glb", "subfolder": "3dxtalker", "type": "output"}]
