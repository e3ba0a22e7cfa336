"""Cancel in a real ComfyUI: Render and Export Animated GLB stop mid-way and leave no partial file.

A long motion clip (Load FLAME Params from a file) is rendered / exported; as soon as the node's progress
bar has moved, the test presses Cancel (``POST /interrupt``) and then checks that the prompt ended as
interrupted before the node could have finished, and that no mp4 or GLB was left behind. The delay between
Cancel and the end is printed (a figure for the closing note), not asserted.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from comfy_server import HAVE_COMFY, SKIP_REASON
from x3dtalker_core.batch import ComfyClient, PromptFailed

pytestmark = pytest.mark.skipif(not HAVE_COMFY, reason=SKIP_REASON)
FRAMES = 3000  # 2 minutes at 25 fps: tens of seconds of rendering on 2 cores


def _long_clip(path: Path) -> Path:
    from x3dtalker_core.params import FlameSequence

    t = np.arange(FRAMES) / 25.0
    pose = np.zeros((FRAMES, 6), np.float32)
    pose[:, 3] = 0.15 * (1 + np.sin(2 * np.pi * 3 * t))
    pose[:, 1] = 0.2 * np.sin(2 * np.pi * 0.3 * t)
    FlameSequence.from_groups(np.zeros((FRAMES, 100)), np.zeros((FRAMES, 50)), pose).save(path)
    return path


def _cancel_after_progress(client: ComfyClient, graph: dict, node: str, min_value: int) -> tuple[float, list]:
    """Queue ``graph``; press Cancel once ``node`` reports progress >= ``min_value``. Returns (seconds from
    Cancel to the prompt's end, the node's progress events)."""
    pressed: list[float] = []
    seen: list[tuple[int, int]] = []

    def on_event(kind: str, data: dict) -> None:
        if kind == "progress" and str(data.get("node")) == node:
            seen.append((int(data["value"]), int(data["max"])))
            if not pressed and data["value"] >= min_value:
                pressed.append(time.monotonic())
                client.interrupt()

    prompt_id = client.queue(graph)
    with pytest.raises(PromptFailed):
        client.wait(prompt_id, timeout_s=900, on_event=on_event, poll_s=0.1)
    ended = time.monotonic()
    assert pressed, f"node {node} never reported progress {min_value}: {seen[-3:]}"
    status = client.history(prompt_id)["status"]
    assert any(m[0] == "execution_interrupted" for m in status.get("messages", [])), status
    return ended - pressed[0], seen


def test_render_stops_on_cancel_and_leaves_no_video(server, tmp_path):
    clip = _long_clip(tmp_path / "long.npz")
    graph = {
        "1": {"class_type": "X3DTalker_LoadFlameParams", "inputs": {"path": str(clip), "frame": 0}},
        "2": {"class_type": "X3DTalker_LoadFlameModel", "inputs": {"model_file": "auto (first installed FLAME model)"}},
        "3": {"class_type": "X3DTalker_Render", "inputs": {
            "sequence": ["1", 1], "flame_model": ["2", 0], "width": 256, "height": 256, "camera": "static",
            "background": "#1a1a1a", "normals": True, "mask": True}},
        "4": {"class_type": "SaveVideo", "inputs": {"video": ["3", 0], "filename_prefix": "cancel/preview",
                                                    "format": "auto", "codec": "auto"}},
    }
    delay, seen = _cancel_after_progress(ComfyClient(server.url), graph, "3", 50)
    print(f"Render: stopped {delay:.2f} s after Cancel, at frame {seen[-1][0]} of {seen[-1][1]}")
    assert seen[-1][0] < seen[-1][1]  # it stopped before the clip was done
    temp_videos = [p for p in server.root.glob("temp/**/render_*/*") if p.suffix in (".mp4", ".tmp")]
    assert temp_videos == [], temp_videos
    assert not (server.output / "cancel").exists() or list((server.output / "cancel").iterdir()) == []


def test_glb_export_stops_on_cancel_and_leaves_no_file(server, tmp_path):
    clip = _long_clip(tmp_path / "long_glb.npz")
    graph = {
        "1": {"class_type": "X3DTalker_LoadFlameParams", "inputs": {"path": str(clip), "frame": 0}},
        "2": {"class_type": "X3DTalker_LoadFlameModel", "inputs": {"model_file": "auto (first installed FLAME model)"}},
        "3": {"class_type": "X3DTalker_ExportGLB", "inputs": {"sequence": ["1", 1], "flame_model": ["2", 0],
                                                               "filename_prefix": "cancel_glb/mesh", "mode": "exact"}},
    }
    delay, seen = _cancel_after_progress(ComfyClient(server.url), graph, "3", 256)
    print(f"GLB export: stopped {delay:.2f} s after Cancel, at step {seen[-1][0]} of {seen[-1][1]}")
    assert seen[-1][0] < seen[-1][1]
    folder = server.output / "cancel_glb"
    assert not folder.exists() or list(folder.iterdir()) == []
