"""Shipped workflows without ComfyUI: every node of ours exists with the inputs the graph uses, UI and
API graphs are the same graph, each UI graph has a thumbnail. The node schemas are read through a
minimal stand-in for ``comfy_api.latest`` (records what ``define_schema`` declares)."""

from __future__ import annotations

import importlib
import json
import sys
import types
from pathlib import Path

import pytest

from comfy_stand_in import comfy_stand_in
from pack_loader import PACK, REPO, load_pack

API = sorted((REPO / "workflows" / "api").glob("*.json"))
UI = REPO / "example_workflows"


@pytest.fixture(scope="module")
def schemas():
    """node_id -> Schema of every node in the pack, read with the stand-in API."""
    out = {}
    with comfy_stand_in(PACK, types.SimpleNamespace(get_filename_list=lambda key: [])):
        pack = load_pack()
        for area in importlib.import_module(pack.__name__ + ".nodes").AREAS:
            module = importlib.import_module(f"{pack.__name__}.nodes.{area}")
            for node in module.NODES:
                schema = node.define_schema()
                out[schema["node_id"]] = schema
    return out


def test_every_node_has_tooltips_category_and_prefix(schemas):
    assert len(schemas) >= 15
    for node_id, schema in schemas.items():
        assert node_id.startswith("X3DTalker_") and schema["category"].startswith("3DXTalker/")
        for spec in schema["inputs"]:
            assert spec["tooltip"], f"{node_id}.{spec['name']} has no tooltip"


@pytest.mark.parametrize("path", API, ids=[p.stem for p in API])
def test_api_workflow_uses_existing_nodes_and_inputs(path, schemas):
    graph = json.loads(path.read_text())
    for node_id, node in graph.items():
        cls = node["class_type"]
        if not cls.startswith("X3DTalker_"):
            continue
        assert cls in schemas, f"{path.name} node {node_id}: unknown node {cls}"
        declared = {s["name"]: s for s in schemas[cls]["inputs"]}
        unknown = set(node["inputs"]) - set(declared)
        assert not unknown, f"{path.name} node {node_id} ({cls}) uses undeclared inputs {unknown}"
        missing = [n for n, s in declared.items() if not s["optional"] and n not in node["inputs"]]
        assert not missing, f"{path.name} node {node_id} ({cls}) lacks required inputs {missing}"
        for name, value in node["inputs"].items():
            if isinstance(value, list):
                src = graph[value[0]]
                assert value[0] in graph, f"{path.name}: link to missing node {value[0]}"
                if src["class_type"].startswith("X3DTalker_"):
                    out_type = schemas[src["class_type"]]["outputs"][value[1]]["type"]
                    assert out_type == declared[name]["type"], f"{path.name} {node_id}.{name}: {out_type} link"


@pytest.mark.parametrize("path", API, ids=[p.stem for p in API])
def test_ui_graph_in_sync_and_has_thumbnail(path):
    sys.path.insert(0, str(REPO / "workflows"))
    try:
        import ui_graph
    finally:
        sys.path.pop(0)
    ui_path = UI / path.name
    assert ui_path.is_file(), f"no UI graph for {path.name}: run workflows/ui_graph.py"
    assert ui_path.with_suffix(".jpg").is_file(), "template browser thumbnail missing"
    ui = json.loads(ui_path.read_text())
    assert ui_graph.ui_structure(ui) == ui_graph.api_structure(json.loads(path.read_text()))
    loaders = [n for n in ui["nodes"] if n["type"] in ("UNETLoader", "CLIPLoader", "VAELoader")]
    assert all(n["properties"].get("models") for n in loaders)


def test_wan_workflows_use_official_template_files():
    names = {json.dumps(json.loads(p.read_text())) for p in API if "wan22" in p.stem}
    text = " ".join(names)
    for f in ("wan2.2_fun_control_high_noise_14B_fp8_scaled.safetensors",
              "wan2.2_fun_control_low_noise_14B_fp8_scaled.safetensors", "wan2.2_fun_control_5B_bf16.safetensors",
              "umt5_xxl_fp8_e4m3fn_scaled.safetensors", "wan_2.1_vae.safetensors", "wan2.2_vae.safetensors"):
        assert f in text
