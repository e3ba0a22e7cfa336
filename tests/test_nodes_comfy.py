"""ComfyUI wiring, against a real ComfyUI checkout when one is available.

Set ``COMFYUI_DIR`` (or ``COMFYUI_PATH``) to a ComfyUI source folder (with its requirements installed in the running
Python) to run these; they are skipped otherwise, since ComfyUI is not a PyPI package.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COMFY = os.environ.get("COMFYUI_DIR") or os.environ.get("COMFYUI_PATH")

pytestmark = pytest.mark.skipif(
    not COMFY or not (Path(COMFY) / "comfy_api").is_dir(), reason="COMFYUI_DIR (or COMFYUI_PATH) does not point at a ComfyUI checkout"
)


@pytest.fixture(scope="module")
def pack():
    sys.path.insert(0, COMFY)
    try:
        from comfy.cli_args import args

        args.cpu = True
        import comfy_api.latest  # noqa: F401  (needs ComfyUI's own requirements in this Python)
    except ImportError as exc:
        pytest.skip(f"ComfyUI's requirements are not installed in this Python ({exc}); run these tests with "
                    "ComfyUI's interpreter, e.g. $COMFYUI_PYTHON -m pytest tests/test_nodes_comfy.py")
    spec = importlib.util.spec_from_file_location(
        "ComfyUI_3DXTalker", REPO / "__init__.py", submodule_search_locations=[str(REPO)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["ComfyUI_3DXTalker"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def node_list(pack):
    extension = asyncio.run(pack.comfy_entrypoint())
    return asyncio.run(extension.get_node_list())


def test_entrypoint_lists_nodes_with_prefixed_ids(node_list):
    ids = [n.define_schema().node_id for n in node_list]
    assert "X3DTalker_LoadFlameModel" in ids
    assert all(i.startswith("X3DTalker_") for i in ids)


def test_schemas_have_tooltips_and_category(node_list):
    for node in node_list:
        info = node.GET_NODE_INFO_V1()
        assert info["category"].startswith("3DXTalker")
        for group in ("required", "optional"):
            for name, spec in info["input"].get(group, {}).items():
                assert len(spec) > 1 and spec[1].get("tooltip"), f"{info['name']}.{name} has no tooltip"


def test_model_folders_registered(pack, node_list):
    import folder_paths

    for key in ("flame", "3dxtalker"):
        assert key in folder_paths.folder_names_and_paths


def test_load_flame_model_executes(pack, node_list, monkeypatch):
    import folder_paths

    roots = [Path(p) for p in os.environ.get("X3DTALKER_MODELS", "").split(os.pathsep) if p]
    models = next((r for r in roots if (r / "flame" / "flame_dev.npz").is_file()), None)
    if models is None:
        pytest.skip("X3DTALKER_MODELS has no flame/flame_dev.npz")
    folder_paths.add_model_folder_path("flame", str(Path(models) / "flame"))
    node = next(n for n in node_list if n.define_schema().node_id == "X3DTalker_LoadFlameModel")
    spec = node.GET_NODE_INFO_V1()["input"]["required"]["model_file"]
    options = spec[1]["options"] if spec[0] == "COMBO" else spec[0]
    assert "flame_dev.npz" in options
    assert not any(o.endswith(("FLAME_masks.pkl", "mediapipe_landmark_embedding.npz")) or "found/" in o for o in options)
    out = node.execute("flame_dev.npz")
    model = out.result[0]
    assert model.num_vertices == 5023 and model.deca68 is not None
    assert node.fingerprint_inputs("flame_dev.npz").endswith(str(os.path.getsize(Path(models) / "flame" / "flame_dev.npz")))
