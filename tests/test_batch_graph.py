"""Batch client pieces that need no server: CSV rows, graph patching, resume bookkeeping, CLI checks."""

from __future__ import annotations

import json

import pytest

from x3dtalker_core.batch import BatchSettings, patch_graph, read_items, run_batch
from x3dtalker_core.batch.graph import graph_inputs
from x3dtalker_core.cli import main
from x3dtalker_core.errors import X3DError

GRAPH = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
    "2": {"class_type": "LoadAudio", "inputs": {"audio": "a.wav"}},
    "7": {"class_type": "X3DTalker_Generate", "inputs": {"seed": 0, "steps": 32, "reference": ["1", 0]}},
    "8": {"class_type": "X3DTalker_EmotionKeyframes", "inputs": {"keyframes": "0:neutral", "blend_weight": 0.75}},
}


def test_patch_graph_shorthands_and_node_inputs():
    assert graph_inputs(GRAPH) == {"image": [("1", "image")], "audio": [("2", "audio")], "seed": [("7", "seed")]}
    out = patch_graph(GRAPH, {"id": "x", "image": "p.png", "seed": "5", "8.keyframes": "0:happy:2",
                              "8.blend_weight": "0.5", "7.steps": ""})
    assert out["1"]["inputs"]["image"] == "p.png" and out["7"]["inputs"]["seed"] == 5
    assert out["8"]["inputs"] == {"keyframes": "0:happy:2", "blend_weight": 0.5} and out["7"]["inputs"]["steps"] == 32
    assert GRAPH["7"]["inputs"]["seed"] == 0  # the original is untouched
    for bad in ({"9.x": "1"}, {"7.reference": "1"}, {"7.seed": "many"}, {"colour": "red"}):
        with pytest.raises(X3DError):
            patch_graph(GRAPH, bad)


def test_read_items_resolves_relative_files(tmp_path):
    (tmp_path / "p.png").write_bytes(b"x")
    csv = tmp_path / "pairs.csv"
    csv.write_text("id,image,audio\nfirst,p.png,/abs/s.wav\n,p.png,s.wav\n")
    items = read_items(csv)
    assert items[0].id == "first" and items[0].values["image"] == str(tmp_path / "p.png")
    assert items[1].id == "item0002" and items[1].values["audio"] == "s.wav"
    csv.write_text("id,image\na,1\na,2\n")
    with pytest.raises(X3DError, match="duplicate"):
        read_items(csv)


def test_unreachable_server_is_retried_then_recorded(tmp_path):
    csv = tmp_path / "pairs.csv"
    csv.write_text("id,seed\none,1\n")
    settings = BatchSettings(retries=1, retry_wait_s=0.01)
    res = run_batch("http://127.0.0.1:9", GRAPH, read_items(csv), tmp_path / "out", settings)
    assert res["one"].status == "failed" and res["one"].attempts == 2 and "cannot reach" in res["one"].error
    assert "one,failed" in (tmp_path / "out" / "results.csv").read_text()


def test_cli_refuses_ui_format(tmp_path, capsys):
    wf = tmp_path / "ui.json"
    wf.write_text(json.dumps({"nodes": [], "links": []}))
    (tmp_path / "p.csv").write_text("id\na\n")
    assert main(["batch", "--workflow", str(wf), "--inputs", str(tmp_path / "p.csv")]) == 2
    assert "UI-format" in capsys.readouterr().err
