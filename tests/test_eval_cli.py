"""The eval command on a tiny two-clip dataset, decoded with the development FLAME head."""

from __future__ import annotations

import json

import numpy as np
import pytest

from x3dtalker_core.cli import main
from x3dtalker_core.data.layout import read_sequence_dir, write_sequence_dir
from x3dtalker_core.params import FlameSequence

from helpers import shared_models_dir

MODELS = shared_models_dir()
pytestmark = pytest.mark.skipif(MODELS is None, reason="needs the FLAME model folder (set X3DTALKER_MODELS)")


def _clip(rng: np.random.Generator, frames: int = 50) -> tuple[FlameSequence, np.ndarray]:
    t = np.arange(frames)
    params = np.zeros((frames, 284), np.float32)
    params[:, :10] = rng.normal(0, 0.5, 10)
    speaking = ((t // 10) % 2 == 1)
    params[:, 153] = 0.15 * speaking * (0.5 + 0.5 * np.sin(t))
    params[:, 150] = 0.03 * np.sin(t / 4)
    audio = np.repeat(np.where(speaking, 0.3, 0.0), 640) * np.sin(np.arange(frames * 640) * 0.3)
    return FlameSequence(params), audio.astype(np.float32)


def test_eval_pred_against_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("X3DTALKER_MODELS", str(MODELS))
    rng = np.random.default_rng(0)
    data, pred = tmp_path / "data", tmp_path / "pred"
    for name in ("a", "b"):
        seq, audio = _clip(rng)
        write_sequence_dir(data / "voice" / name, seq, audio=audio)
        moved = seq.params.copy()
        moved[:, 153] *= 0.5  # half the jaw opening
        FlameSequence(moved).save(pred / "voice" / f"{name}.npz")
    out = tmp_path / "report.json"
    assert main(["eval", "--pred", str(pred), "--data", str(data), "--out", str(out), "--mode", "spec"]) == 0
    report = json.loads(out.read_text())
    s = report["summary"]
    assert s["clips"] == 2 and s["frames"] == 100
    assert s["spec"]["LVE"] > s["spec"]["MVE"] > 0
    assert s["jaw_gt_r"] == pytest.approx(1.0)  # a scaled jaw correlates perfectly
    assert s["closed_in_silence"] == pytest.approx(1.0)
    assert "| LVE |" in out.with_suffix(".md").read_text()
    # identical prediction: zero vertex errors
    same = tmp_path / "same"
    for name in ("a", "b"):
        read_sequence_dir(data / "voice" / name)[0].save(same / "voice" / name / "params.npz")
    out2 = tmp_path / "same.json"
    assert main(["eval", "--pred", str(same), "--data", str(data), "--out", str(out2), "--mode", "spec"]) == 0
    assert json.loads(out2.read_text())["summary"]["spec"]["LVE"] == pytest.approx(0.0, abs=1e-6)


def test_eval_missing_prediction_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("X3DTALKER_MODELS", str(MODELS))
    seq, audio = _clip(np.random.default_rng(1), 20)
    write_sequence_dir(tmp_path / "data" / "x", seq, audio=audio)
    (tmp_path / "pred").mkdir()
    code = main(["eval", "--pred", str(tmp_path / "pred"), "--data", str(tmp_path / "data"),
                 "--out", str(tmp_path / "r.json")])
    assert code == 2
    assert "no prediction for clip x" in capsys.readouterr().err
