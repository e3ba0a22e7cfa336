"""API-format graphs (``workflows/api/``) <-> UI-format graphs (``example_workflows/``).

The API graphs are the source; ``python workflows/ui_graph.py OBJECT_INFO.json`` (object_info saved
from a running ComfyUI with the pack: ``curl http://127.0.0.1:8188/object_info``) rewrites the UI
graphs from them, and the tests check that both stay the same graph (:func:`ui_to_api`).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_DIR = ROOT / "workflows" / "api"
UI_DIR = ROOT / "example_workflows"
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
HF = "https://huggingface.co/Comfy-Org"
MODEL_URLS = {  # official Fun-Control template files (properties.models drives the missing-models dialog)
    "wan2.2_fun_control_high_noise_14B_fp8_scaled.safetensors": (f"{HF}/Wan_2.2_ComfyUI_Repackaged", "diffusion_models"),
    "wan2.2_fun_control_low_noise_14B_fp8_scaled.safetensors": (f"{HF}/Wan_2.2_ComfyUI_Repackaged", "diffusion_models"),
    "wan2.2_fun_control_5B_bf16.safetensors": (f"{HF}/Wan_2.2_ComfyUI_Repackaged", "diffusion_models"),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": (f"{HF}/Wan_2.1_ComfyUI_repackaged", "text_encoders"),
    "wan_2.1_vae.safetensors": (f"{HF}/Wan_2.2_ComfyUI_Repackaged", "vae"),
    "wan2.2_vae.safetensors": (f"{HF}/Wan_2.2_ComfyUI_Repackaged", "vae"),
}


# Room a node needs beyond its widget rows: previews (image strip, video, 3D viewport, curve view), file
# pickers and multi-line text. (width, extra height) in canvas pixels.
NODE_ROOM = {
    "LoadImage": (340, 300), "LoadAudio": (340, 90), "PreviewImage": (400, 320), "SaveVideo": (420, 380),
    "Preview3DAnimation": (560, 520), "Preview3D": (560, 520), "X3DTalker_Render": (420, 380),
    "X3DTalker_MotionCurves": (560, 300), "X3DTalker_ImageToFlame": (340, 60), "X3DTalker_EmotionKeyframes": (360, 90),
    "X3DTalker_HeadPoseLLM": (360, 90), "CLIPTextEncode": (400, 120), "X3DTalker_LoadGenerator": (340, 40),
    "X3DTalker_WanControlVideo": (360, 40), "X3DTalker_Generate": (340, 40),
}
COLUMN_GAP, ROW_GAP = 60, 50


def _is_widget(spec: list) -> bool:
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def _inputs(info: dict) -> list[tuple[str, list, bool]]:
    """(name, spec, optional) in the node's input order."""
    order = info.get("input_order") or {g: list(info["input"].get(g, {})) for g in ("required", "optional")}
    return [(n, info["input"][g][n], g == "optional") for g in ("required", "optional") for n in order.get(g, [])]


def _control(spec: list) -> bool:
    return len(spec) > 1 and isinstance(spec[1], dict) and bool(spec[1].get("control_after_generate"))


def _depths(api: dict) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(n: str) -> int:
        if n not in depth:
            depth[n] = 0
            srcs = [v[0] for v in api[n]["inputs"].values() if isinstance(v, list)]
            depth[n] = 1 + max((visit(s) for s in srcs), default=-1)
        return depth[n]

    for n in api:
        visit(n)
    return depth


def _column_x(api: dict, depth: dict[str, int]) -> dict[int, int]:
    """Left edge of each depth column: every column as wide as its widest node, plus a gap."""
    widths: dict[int, int] = {}
    for node_id, node in api.items():
        widths[depth[node_id]] = max(widths.get(depth[node_id], 0), NODE_ROOM.get(node["class_type"], (340, 0))[0])
    x, out = 40, {}
    for d in sorted(widths):
        out[d] = x
        x += widths[d] + COLUMN_GAP
    return out


def api_to_ui(api: dict, object_info: dict, version: str = "0.1.0") -> dict:
    depth = _depths(api)
    column_x = _column_x(api, depth)
    nodes, links, column_y = [], [], {}
    link_id = 0
    out_links: dict[tuple[str, int], list[int]] = {}
    for node_id in sorted(api, key=lambda n: (depth[n], int(n))):
        node = api[node_id]
        cls, info = node["class_type"], object_info[node["class_type"]]
        ui_inputs, widgets = [], []
        for name, spec, optional in _inputs(info):
            value = node["inputs"].get(name)
            if _is_widget(spec):
                default = spec[1].get("default") if len(spec) > 1 and isinstance(spec[1], dict) else None
                widgets.append(default if isinstance(value, list) or value is None else value)
                if _control(spec):
                    widgets.append("fixed")
                if isinstance(value, list):
                    ui_inputs.append({"name": name, "type": "COMBO" if isinstance(spec[0], list) else spec[0],
                                      "widget": {"name": name}, "link": None})
            elif not (value is None and optional):
                ui_inputs.append({"name": name, "type": spec[0], "link": None, **({"shape": 7} if optional else {})})
            if isinstance(value, list):
                link_id += 1
                src, slot = value
                target_slot = next(i for i, x in enumerate(ui_inputs) if x["name"] == name)
                ui_inputs[target_slot]["link"] = link_id
                links.append([link_id, int(src), int(slot), int(node_id), target_slot,
                              object_info[api[src]["class_type"]]["output"][slot]])
                out_links.setdefault((src, slot), []).append(link_id)
        x = column_x[depth[node_id]]
        y = column_y.get(depth[node_id], 40)
        width, extra = NODE_ROOM.get(cls, (340, 0))
        outputs = len(info["output"])
        height = 40 + 24 * (max(outputs, len([i for i in ui_inputs if "widget" not in i])) + len(widgets)) + extra
        column_y[depth[node_id]] = y + height + ROW_GAP
        props = {"Node name for S&R": cls, "cnr_id": "comfyui-3dxtalker" if cls.startswith("X3DTalker_") else "comfy-core",
                 "ver": version if cls.startswith("X3DTalker_") else "0.3.64"}
        models = [{"name": v, "url": f"{MODEL_URLS[v][0]}/resolve/main/split_files/{MODEL_URLS[v][1]}/{v}",
                   "directory": MODEL_URLS[v][1]} for v in node["inputs"].values() if isinstance(v, str) and v in MODEL_URLS]
        if models:
            props["models"] = models
        entry = {"id": int(node_id), "type": cls, "pos": [x, y], "size": [width, height], "flags": {}, "order": 0,
                 "mode": 0, "inputs": ui_inputs, "properties": props, "widgets_values": widgets,
                 "outputs": [{"name": n, "type": t, "links": None}
                             for n, t in zip(info.get("output_name", info["output"]), info["output"])]}
        if "_meta" in node:
            entry["title"] = node["_meta"]["title"]
        nodes.append(entry)
    for entry in nodes:
        for slot, out in enumerate(entry["outputs"]):
            out["links"] = out_links.get((str(entry["id"]), slot), [])
    order = sorted(nodes, key=lambda e: (depth[str(e["id"])], e["id"]))
    for i, entry in enumerate(order):
        entry["order"] = i
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(api, sort_keys=True))), "revision": 0,
            "last_node_id": max(int(n) for n in api), "last_link_id": link_id, "nodes": nodes, "links": links,
            "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4}


def ui_structure(ui: dict) -> tuple[dict[str, str], set[tuple[str, int, str, str]]]:
    """Node id -> class, and links as (source id, slot, target id, input name), from a UI graph."""
    types = {str(n["id"]): n["type"] for n in ui["nodes"]}
    names = {(n["id"], i): inp["name"] for n in ui["nodes"] for i, inp in enumerate(n.get("inputs", []))}
    links = {(str(src), int(slot), str(dst), names[(dst, dslot)]) for _, src, slot, dst, dslot, _ in ui["links"]}
    return types, links


def api_structure(api: dict) -> tuple[dict[str, str], set[tuple[str, int, str, str]]]:
    types = {k: v["class_type"] for k, v in api.items()}
    links = {(v[0], int(v[1]), k, name) for k, node in api.items() for name, v in node["inputs"].items()
             if isinstance(v, list)}
    return types, links


def ui_to_api(ui: dict, object_info: dict) -> dict:
    """Widget values and links of a UI graph back in API form (to compare with ``workflows/api``)."""
    api = {}
    for n in ui["nodes"]:
        info = object_info[n["type"]]
        values = list(n.get("widgets_values", []))
        linked = {inp["name"]: inp["link"] for inp in n.get("inputs", []) if inp.get("link") is not None}
        link_src = {l[0]: (str(l[1]), l[2]) for l in ui["links"]}
        inputs = {}
        for name, spec, _ in _inputs(info):
            if _is_widget(spec):
                value = values.pop(0)
                if _control(spec):
                    values.pop(0)
                inputs[name] = list(link_src[linked[name]]) if name in linked else value
            elif name in linked:
                inputs[name] = list(link_src[linked[name]])
        api[str(n["id"])] = {"class_type": n["type"], "inputs": inputs}
    return api


def main(object_info_path: str) -> None:
    info = json.loads(Path(object_info_path).read_text())
    UI_DIR.mkdir(exist_ok=True)
    for path in sorted(API_DIR.glob("*.json")):
        ui = api_to_ui(json.loads(path.read_text()), info)
        (UI_DIR / path.name).write_text(json.dumps(ui, indent=1) + "\n")
        print(UI_DIR / path.name)


if __name__ == "__main__":
    main(sys.argv[1])
