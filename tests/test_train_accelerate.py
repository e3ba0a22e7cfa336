"""`train` CLI: feature precompute, then two processes under `accelerate launch` for two steps and a resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open

from x3dtalker_core.cli import main
from x3dtalker_core.data.layout import write_sequence_dir
from x3dtalker_core.params import PARAM_DIM, FlameSequence

pytest.importorskip("accelerate")


def write_corpus(root, clips=3, frames=40):
    rng = np.random.default_rng(0)
    for i in range(clips):
        t = np.arange(frames * 640) / 16000
        audio = (0.3 * np.sin(2 * np.pi * 3 * t) ** 2 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
        params = rng.normal(scale=0.1, size=(frames, PARAM_DIM)).astype(np.float32)
        write_sequence_dir(root / "HDTF" / f"clip{i}", FlameSequence(params), audio=audio)


def launch(args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "x3dtalker_core", "train", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=os.getcwd())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_precompute_then_two_processes_and_resume(tmp_path, capsys):
    data = tmp_path / "data"
    write_corpus(data)
    assert main(["train", "--precompute", "--data", str(data), "--no-progress"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts == {"clips": 3, "computed": 3, "cached": 0, "skipped": 0}
    assert main(["train", "--precompute", "--data", str(data), "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["cached"] == 3

    config = tmp_path / "run.yaml"
    config.write_text("preset: small\nwindow: 32\nmodel: {hidden: 32, heads: 2}\n"
                      "train: {batch_size: 2, max_steps: 4, save_every: 2, eval_every: 2, log_every: 1, "
                      "repeats: {HDTF: 2}}\n")
    out = tmp_path / "run"
    common = ["--config", str(config), "--data", str(data), "--out", str(out), "--no-progress"]
    launch([*common, "--stop-at", "2"], tmp_path)
    step2 = out / "checkpoints" / "step_0000002"
    assert (step2 / "random_states_0.pkl").is_file() and (step2 / "random_states_1.pkl").is_file()
    launch([*common, "--resume", "latest"], tmp_path)
    with safe_open(str(out / "generator.safetensors"), "pt") as f:
        info = json.loads(f.metadata()["info"])["training"]
    assert info["steps"] == 4 and info["processes"] == 2
    import csv

    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert [bool(r["eval_loss"]) for r in rows] == [False, True, False, True]


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no sequence folders" in capsys.readouterr().err
    assert main(["train", "--config", "huge", "--data", str(tmp_path)]) == 2
    assert "neither a preset" in capsys.readouterr().err
