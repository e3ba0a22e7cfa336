"""The Export node without ComfyUI: a minimal stand-in for ``comfy_api.latest`` and ``folder_paths``."""

from __future__ import annotations

import importlib
import types

import pytest

from comfy_stand_in import comfy_stand_in
from helpers import shared_models_dir, talking_sequence
from pack_loader import PACK, load_pack


@pytest.fixture
def export_node(tmp_path):
    if shared_models_dir() is None:
        pytest.skip("X3DTALKER_MODELS does not point at a folder with flame/")
    with comfy_stand_in(PACK, types.SimpleNamespace(get_output_directory=lambda: str(tmp_path))):
        pack = load_pack()
        module = importlib.import_module(f"{pack.__name__}.nodes.export")
        flame = importlib.import_module(f"{pack.__name__}.x3dtalker_core.flame").load_flame_model(landmarks=False)
        yield module.ExportARKit, flame


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
