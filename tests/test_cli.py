"""The command-line front door: help, errors as one line, bench output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "x3dtalker_core", *args], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ}, timeout=300)


def test_help_lists_spec_commands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("assets", "generate", "render", "train", "eval", "synth", "curate", "lift", "batch", "bench"):
        assert command in out.stdout


def test_user_error_is_one_line_without_traceback():
    out = run("assets", "install-flame", "/nonexistent/generic_model.pkl")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: ")


def test_bench_flame_forward_json():
    out = run("bench", "flame_forward", "--json", "--batch", "16", "--repeats", "2")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["stage"] == "flame_forward" and result["frames"] == 32 and result["fps"] > 0


def test_unknown_bench_stage():
    out = run("bench", "nope")
    assert out.returncode == 2 and "unknown benchmark 'nope'" in out.stderr


def test_building_the_parser_does_not_import_torch():
    code = ("import sys; from x3dtalker_core.cli import build_parser; build_parser(); "
            "heavy = [m for m in ('torch', 'transformers', 'moderngl', 'av') if m in sys.modules]; "
            "assert not heavy, heavy; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
