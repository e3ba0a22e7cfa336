"""`python -m x3dtalker_core reconstruct` front door."""

import json

import pytest

import numpy as np

from x3dtalker_core.cli import main
from x3dtalker_core.params import FlameParams, FlameSequence


def test_params_backend_roundtrip(tmp_path, capsys):
    p = FlameParams.from_vector(np.linspace(-1, 1, 284, dtype=np.float32), cam=np.array([5.0, 0.0, 0.0]))
    p.save(tmp_path / "in.npz")
    rc = main(["reconstruct", "--image", str(tmp_path / "in.npz"), "--backend", "params", "--out", str(tmp_path / "o.npz")])
    assert rc == 0
    out = FlameSequence.load(tmp_path / "o.npz")
    assert np.allclose(out.params[0], p.to_vector())
    assert out.metadata["reconstruction"]["backend"] == "params"
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["backend"] == "params"


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["reconstruct", "--image", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    with pytest.raises(SystemExit) as exit_info:  # argparse: --image is required
        main(["reconstruct", "--out", str(tmp_path / "o.npz")])
    assert exit_info.value.code == 2
    assert main(["assets", "install-mediapipe", "--wheel", str(tmp_path / "nope.whl")]) == 2
