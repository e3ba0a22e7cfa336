"""The pack inside a real ComfyUI server: import, /object_info, shipped workflows end to end, batch client."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from x3dtalker_core.batch import BatchSettings, ComfyClient, PromptFailed, read_items, run_batch

REPO = Path(__file__).resolve().parents[2]
COMFY = os.environ.get("COMFYUI_DIR") or os.environ.get("COMFYUI_PATH")
pytestmark = pytest.mark.skipif(not COMFY or not (Path(COMFY) / "main.py").is_file(),
                                reason="set COMFYUI_DIR (or COMFYUI_PATH) to a Comfy-Org/ComfyUI checkout to run "
                                "the real-server tests")
API = REPO / "workflows" / "api"
OUR_NODES = {"X3DTalker_LoadFlameModel", "X3DTalker_ImageToFlame", "X3DTalker_LoadFlameParams", "X3DTalker_AudioEncode",
             "X3DTalker_LoadGenerator", "X3DTalker_Generate", "X3DTalker_EmotionTemplate",
             "X3DTalker_EmotionKeyframes", "X3DTalker_HeadPosePreset", "X3DTalker_HeadPoseLLM", "X3DTalker_Render",
             "X3DTalker_WanControlVideo", "X3DTalker_ExportGLB", "X3DTalker_SaveParams", "X3DTalker_MotionCurves"}


def load(name: str) -> dict:
    return json.loads((API / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def object_info(server):
    return server.get("/object_info")


def test_pack_imports_and_lists_every_node(server, object_info):
    log = server.log.read_text()
    assert "IMPORT FAILED" not in log and "Cannot import" not in log, log[-2000:]
    assert OUR_NODES <= set(object_info), sorted(OUR_NODES - set(object_info))
    ckpts = object_info["X3DTalker_LoadGenerator"]["input"]["required"]["checkpoint"]
    options = ckpts[1]["options"] if ckpts[0] == "COMBO" else ckpts[0]
    # Fresh install: nothing in models/3dxtalker, yet the bundled bootstrap is offered and 'auto' is the default.
    assert not (server.models / "3dxtalker").exists() or not any((server.models / "3dxtalker").iterdir())
    assert options[0] == "auto" and "3dxtalker_bootstrap.safetensors" in options
    assert ckpts[1].get("default") == "auto"
    assert all(not o.endswith("model.safetensors") for o in options)   # encoder weights are not generators
    for key in ("flame", "3dxtalker", "mediapipe"):
        assert key in server.get("/models"), f"model folder '{key}' is not registered"
    templates = server.get("/workflow_templates")
    listed = next(v for k, v in templates.items() if "3DXTalker" in k or "3dxtalker" in k.lower())
    assert sorted(listed) == sorted(p.stem for p in (REPO / "example_workflows").glob("*.json"))


def _run(server, name: str) -> dict:
    client = ComfyClient(server.url)
    events = []
    entry = client.wait(client.queue(load(name)), timeout_s=900, on_event=lambda k, d: events.append(k))
    assert "progress" in events or "executing" in events
    return entry


def test_workflow_a_photo_speech_preview_on_a_fresh_install(server):
    out = _run(server, "x3dtalker_photo_speech_preview")["outputs"]
    assert "bootstrap bundled with the pack" in out["6"]["text"][0]         # the node says which checkpoint
    assert out["8"]["animated"] == [True] and out["8"]["images"][0]["type"] == "temp"   # preview on the node
    videos = [f for n in ("10", "12") for f in out[n]["images"]]
    assert all((server.output / f["subfolder"] / f["filename"]).stat().st_size > 1000 for f in videos)
    from x3dtalker_core.render.video import probe_video

    info = probe_video(server.output / videos[0]["subfolder"] / videos[0]["filename"])
    assert info.frames == 50 and abs(info.fps - 25) < 1e-6 and info.audio_seconds is not None
    depth = probe_video(server.output / videos[1]["subfolder"] / videos[1]["filename"])
    assert depth.frames == 50 and depth.audio_seconds is not None
    glb = out["14"]["result"][0]
    assert (server.output / glb).stat().st_size > 10000 and glb.endswith(".glb")
    assert out["16"]["x3d_curves"][0]["frames"] == 50
    assert (server.output / out["15"]["text"][0]).is_file()


def test_workflow_b_emotion_keyframes_headpose(server):
    out = _run(server, "x3dtalker_emotion_keyframes_headpose")["outputs"]
    import numpy as np

    from x3dtalker_core.params import FlameSequence

    seq = FlameSequence.load(server.output / out["17"]["text"][0])
    assert seq.metadata["emotion_control"]["keyframes"][1][1] == "happy"
    assert seq.metadata["head_pose"]["source"] == "preset"  # no LLM server here: the fallback preset
    assert np.ptp(seq.head_pose, axis=0).max() > 0.01
    from x3dtalker_core.flame import load_flame_model
    from x3dtalker_core.flame.arkit import expression_space_of

    # Generate got the loaded FLAME model: the motion speaks its expression space, as in the generate command
    assert seq.metadata["expression_space"] == expression_space_of(load_flame_model(landmarks=False))
    assert out["13"]["images"]


def test_workflow_c_wan_validates_and_fails_only_at_wan_weights(server):
    client = ComfyClient(server.url)
    for name in ("x3dtalker_wan22_fun_control_14b", "x3dtalker_wan22_fun_control_5b"):
        prompt_id = client.queue(load(name))  # passes validation (a ComfyError would be raised)
        with pytest.raises(PromptFailed) as err:
            client.wait(prompt_id, timeout_s=900)
        assert err.value.node_type in ("UNETLoader", "CLIPLoader", "VAELoader"), str(err.value)


def test_batch_three_items_one_broken_then_resume(server, media, tmp_path):
    inputs = tmp_path / "pairs.csv"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    with open(inputs, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "image", "audio", "seed"])
        w.writerow(["a", media["image"], media["audio"], 1])
        w.writerow(["b", broken, media["audio"], 2])
        w.writerow(["c", media["image"], media["audio"], 3])
    graph = load("x3dtalker_photo_speech_preview")
    out = tmp_path / "out"
    settings = BatchSettings(concurrency=2, retries=1, retry_wait_s=0.5, timeout_s=900)
    first = run_batch(server.url, graph, read_items(inputs), out, settings)
    assert first["a"].status == "ok" and first["c"].status == "ok" and first["b"].status == "failed"
    assert any(o.endswith(".mp4") for o in first["a"].outputs) and (out / first["a"].outputs[0]).is_file()
    rows = {r["id"]: r for r in csv.DictReader(open(out / "results.csv"))}
    assert rows["b"]["status"] == "failed" and rows["b"]["error"]

    second = run_batch(server.url, graph, read_items(inputs), out, settings)
    assert second["a"].attempts == 0 and second["c"].attempts == 0  # finished items are not redone
    assert second["b"].attempts >= 1 and second["b"].status == "failed"
