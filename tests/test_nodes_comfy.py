"""ComfyUI wiring, in process, against a real ComfyUI checkout when one is available.

Set ``COMFYUI_DIR`` (or ``COMFYUI_PATH``) to a ComfyUI source folder to run these; they are skipped otherwise,
since ComfyUI is not a PyPI package. They need ComfyUI's requirements in the running Python: when the suite runs
in another interpreter and ``COMFYUI_PYTHON`` names ComfyUI's, ``test_under_comfyui_python`` runs this file
there (one plain ``pytest`` command covers both).
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COMFY = os.environ.get("COMFYUI_DIR") or os.environ.get("COMFYUI_PATH")
COMFY_PYTHON = os.environ.get("COMFYUI_PYTHON")
CHILD_FLAG = "X3DTALKER_IN_COMFYUI_PYTHON"
HAVE_CHECKOUT = bool(COMFY) and (Path(COMFY) / "comfy_api").is_dir()
# Another interpreter is ComfyUI's: the in-process tests run there (test_under_comfyui_python), not here.
ELSEWHERE = (HAVE_CHECKOUT and bool(COMFY_PYTHON) and not os.environ.get(CHILD_FLAG)
             and Path(COMFY_PYTHON).absolute() != Path(sys.executable).absolute())

pytestmark = pytest.mark.skipif(not HAVE_CHECKOUT,
                                reason="COMFYUI_DIR (or COMFYUI_PATH) does not point at a ComfyUI checkout")


@pytest.mark.skipif(not ELSEWHERE, reason="already in ComfyUI's Python (or COMFYUI_PYTHON is not set)")
def test_under_comfyui_python():
    """This file's in-process tests, run by ComfyUI's own interpreter."""
    env = dict(os.environ, **{CHILD_FLAG: "1"})
    proc = subprocess.run([COMFY_PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", __file__],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    assert " passed" in tail.splitlines()[-1], tail


@pytest.fixture(scope="module")
def pack():
    if ELSEWHERE:
        pytest.skip("runs under $COMFYUI_PYTHON (see test_under_comfyui_python)")
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


def _node(node_list, node_id):
    return next(n for n in node_list if n.define_schema().node_id == node_id)


def _dev_models_root() -> Path | None:
    roots = [Path(p) for p in os.environ.get("X3DTALKER_MODELS", "").split(os.pathsep) if p]
    return next((r for r in roots if (r / "flame" / "flame_dev.npz").is_file()), None)


def test_generator_dropdown_offers_the_bundled_bootstrap_by_default(pack, node_list):
    node = _node(node_list, "X3DTalker_LoadGenerator")
    spec = node.GET_NODE_INFO_V1()["input"]["required"]["checkpoint"]
    options = spec[1]["options"] if spec[0] == "COMBO" else spec[0]
    assert options[0] == "auto" and spec[1]["default"] == "auto" and "3dxtalker_bootstrap.safetensors" in options
    out = node.execute("auto", "float32")
    assert "bootstrap bundled with the pack" in out.ui.as_dict()["text"][0] and out.result[0].name.startswith("3dxtalker_bootstrap")


def test_render_node_returns_file_backed_videos(pack, node_list, tmp_path, monkeypatch):
    import folder_paths
    import numpy as np
    import torch

    if _dev_models_root() is None:
        pytest.skip("X3DTALKER_MODELS has no flame/flame_dev.npz")
    monkeypatch.setattr(folder_paths, "get_temp_directory", lambda: str(tmp_path))
    flame_mod = sys.modules["ComfyUI_3DXTalker.x3dtalker_core.flame"]
    params = sys.modules["ComfyUI_3DXTalker.x3dtalker_core.params"]
    seq = params.FlameSequence(np.zeros((30, params.PARAM_DIM), np.float32), fps=25.0)
    seq.params[:, params.JAW_POSE.start] = np.linspace(0, 0.3, 30)
    wave = torch.zeros(1, 1, 16000 * 30 // 25)
    out = _node(node_list, "X3DTalker_Render").execute(seq, flame_mod.load_flame_model(), 64, 64, "static",
                                                      {"waveform": wave, "sample_rate": 16000})
    preview, depth, normals, mask, fps = out.result
    assert normals is None and mask is None and fps == 25.0          # switched off: nothing rendered
    assert type(preview).__name__ == "VideoFromFile" and depth.get_dimensions() == (64, 64)
    assert abs(depth.get_duration() - 30 / 25) < 0.05
    saved = tmp_path / "copy.mp4"
    depth.save_to(str(saved))                                        # what core SaveVideo does: a stream copy
    assert saved.stat().st_size > 1000 and out.ui["animated"] == [True]


def test_generate_node_takes_the_flame_model_and_an_even_window(pack, node_list):
    """The Generate node converts into the loaded FLAME model's expression space, as the generate command does."""
    import numpy as np
    from helpers import tiny_generator

    if _dev_models_root() is None:
        pytest.skip("X3DTALKER_MODELS has no flame/flame_dev.npz")
    core = "ComfyUI_3DXTalker.x3dtalker_core"
    flame_mod, model, audio, params, arkit = (importlib.import_module(f"{core}.{m}")
                                              for m in ("flame", "model", "audio", "params", "flame.arkit"))
    node = _node(node_list, "X3DTalker_Generate")
    optional = node.GET_NODE_INFO_V1()["input"]["optional"]
    assert optional["flame_model"][0] == "FLAME_MODEL"

    t = np.arange(16000) / 16000
    features = audio.extract_features((0.3 * np.sin(2 * np.pi * 160 * t)).astype(np.float32), "mel", "prosody")
    generator = tiny_generator(model, features)
    flame = flame_mod.load_flame_model()
    reference = params.FlameParams.from_vector(np.zeros(params.PARAM_DIM, np.float32))
    seq = node.execute(generator, reference, features, steps=1, smooth_window=6, flame_model=flame).result[0]
    assert seq.num_frames == features.num_frames and seq.metadata["smoothing"] == [6, 2]
    assert seq.metadata["expression_space"] == arkit.expression_space_of(flame)
    plain = node.execute(generator, reference, features, steps=1).result[0]
    assert plain.metadata["expression_space"] == generator.config.expression_space
