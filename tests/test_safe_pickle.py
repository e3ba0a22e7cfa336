"""The restricted FLAME unpickler: official structure without chumpy, and refusal of bad files."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from x3dtalker_core.errors import InvalidFileError
from x3dtalker_core.flame import FlameModel, flame_data_from_arrays, load_flame_data
from x3dtalker_core.flame.safe_pickle import load_npy_object, loads_restricted


def _fake_chumpy():
    """A stand-in for chumpy's ``Ch`` that pickles like the real one (state dict holding 'x')."""
    pkg, mod = types.ModuleType("chumpy"), types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x)
            self._parents = {}
            self._cache = {}

        def __getstate__(self):
            state = dict(self.__dict__)
            del state["_parents"], state["_cache"]
            return state

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    mod.Ch = Ch
    pkg.ch = mod
    return pkg, mod, Ch


def official_style_pickle(arrays: dict, protocol: int) -> bytes:
    pkg, mod, Ch = _fake_chumpy()
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = pkg, mod
    try:
        model = dict(arrays)
        for key in ("v_template", "shapedirs", "weights"):
            model[key] = Ch(arrays[key])
        model["J_regressor"] = sp.csc_matrix(arrays["J_regressor"])
        model["J"] = Ch(arrays["J_regressor"] @ arrays["v_template"])
        return pickle.dumps(model, protocol=protocol)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]


@pytest.mark.parametrize("protocol", [0, 2])
def test_reads_official_structure_without_chumpy(tmp_path, tiny_arrays, protocol):
    data = official_style_pickle(tiny_arrays, protocol)
    assert b"chumpy" in data and b"csc_matrix" in data
    assert "chumpy" not in sys.modules
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(data)
    loaded = load_flame_data(path)
    assert np.allclose(loaded.J_regressor, tiny_arrays["J_regressor"])
    assert np.allclose(loaded.shapedirs, tiny_arrays["shapedirs"])
    direct = FlameModel(flame_data_from_arrays(tiny_arrays))
    pose = torch.tensor([[0.1, 0.0, 0.0, 0.2, 0.0, 0.0]])
    assert torch.allclose(FlameModel(loaded)(pose=pose), direct(pose=pose))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_malicious_pickle_is_refused(tmp_path):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": _Exploit()}))
    with pytest.raises(InvalidFileError, match="refusing to load .*disallowed global"):
        load_flame_data(path)


@pytest.mark.parametrize("cut", [10, 200, 0.5])
def test_truncated_pickle_is_refused(tmp_path, tiny_arrays, cut):
    data = official_style_pickle(tiny_arrays, 2)
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(data[:n])
    with pytest.raises(InvalidFileError, match="truncated or not a valid pickle"):
        load_flame_data(path)


def test_not_a_dict_and_wrong_suffix(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(InvalidFileError, match="expected a dict"):
        load_flame_data(path)
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(InvalidFileError, match="unsupported FLAME model format"):
        load_flame_data(other)


def test_npy_with_torch_tensors_loads_without_code_execution(tmp_path):
    payload = np.empty((), dtype=object)
    payload[()] = {"a": torch.arange(6).reshape(2, 3), "b": np.ones(3)}
    path = tmp_path / "emb.npy"
    np.save(path, payload, allow_pickle=True)
    out = load_npy_object(path)
    assert isinstance(out["a"], np.ndarray) and out["a"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_builtin_globals_refused():
    with pytest.raises(InvalidFileError, match="disallowed global 'builtins.eval'"):
        loads_restricted(pickle.dumps(eval), "x")
