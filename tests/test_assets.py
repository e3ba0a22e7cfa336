"""Asset resolver: search order, clear errors, and the `assets` commands."""

from __future__ import annotations

import json
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

from x3dtalker_core import assets
from x3dtalker_core.cli import main
from x3dtalker_core.errors import AssetNotFoundError


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No ComfyUI, $X3DTALKER_MODELS and the user cache inside tmp_path."""
    monkeypatch.setenv("X3DTALKER_MODELS", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delitem(sys.modules, "folder_paths", raising=False)
    return tmp_path


def test_missing_asset_message_names_everything(isolated):
    with pytest.raises(AssetNotFoundError) as info:
        assets.find_asset("flame_model")
    msg = str(info.value)
    assert "generic_model.pkl" in msg and str(isolated / "env" / "flame") in msg
    assert str(isolated / "cache" / "x3dtalker" / "models" / "flame") in msg
    assert "flame.is.tue.mpg.de" in msg and "CC BY 4.0" in msg


def test_search_order_comfy_env_cache(isolated, monkeypatch):
    comfy = isolated / "comfy" / "flame"
    for folder in (comfy, isolated / "env" / "flame", isolated / "cache" / "x3dtalker" / "models" / "flame"):
        folder.mkdir(parents=True)
        (folder / "FLAME_masks.pkl").write_bytes(b"x")
    fake = types.SimpleNamespace(get_folder_paths=lambda key: [str(comfy)] if key == "flame" else [])
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    assert assets.find_asset("flame_masks") == comfy / "FLAME_masks.pkl"
    monkeypatch.delitem(sys.modules, "folder_paths")
    assert assets.find_asset("flame_masks") == isolated / "env" / "flame" / "FLAME_masks.pkl"
    monkeypatch.delenv("X3DTALKER_MODELS")
    assert assets.find_asset("flame_masks").parent == isolated / "cache" / "x3dtalker" / "models" / "flame"


def test_preferred_candidate_wins(isolated):
    folder = isolated / "env" / "flame"
    folder.mkdir(parents=True)
    (folder / "flame_dev.npz").write_bytes(b"x")
    assert assets.find_asset("flame_model").name == "flame_dev.npz"
    (folder / "generic_model.pkl").write_bytes(b"x")
    assert assets.find_asset("flame_model").name == "generic_model.pkl"


def test_status_cli(isolated, capsys):
    assert main(["assets", "status", "--json"]) == 0
    rows = {r["asset"]: r for r in json.loads(capsys.readouterr().out)}
    assert not rows["flame_model"]["found"] and rows["flame_model"]["required"]
    assert main(["assets", "status", "--check"]) == 1
    assert "MISSING" in capsys.readouterr().out


def test_status_reports_shared_models(capsys):
    from helpers import shared_models_dir

    if shared_models_dir() is None:
        pytest.skip("X3DTALKER_MODELS not set")
    assert main(["assets", "status", "--check"]) == 0
    out = capsys.readouterr().out
    for name in ("flame_model", "flame_masks", "landmark_embedding", "mediapipe_embedding"):
        line = next(l for l in out.splitlines() if l.startswith(name))
        assert "found" in line and "MISSING" not in line


def test_install_flame_from_pkl_zip_and_npz(isolated, tiny_arrays, capsys):
    from helpers import tiny_flame_arrays

    arrays = tiny_flame_arrays(num_vertices=5023)
    pkl = isolated / "download" / "generic_model.pkl"
    pkl.parent.mkdir()
    pkl.write_bytes(pickle.dumps(arrays, protocol=2))
    assert main(["assets", "install-flame", str(pkl)]) == 0
    target = isolated / "env" / "flame" / "generic_model.pkl"
    assert target.read_bytes() == pkl.read_bytes()
    assert assets.find_asset("flame_model") == target
    # again without --force: refused with a message, exit 2
    assert main(["assets", "install-flame", str(pkl)]) == 2
    assert "already exists" in capsys.readouterr().err
    # zip with the model inside a folder, converted to npz
    zpath = isolated / "download" / "FLAME2020.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.write(pkl, "FLAME2020/generic_model.pkl")
        zf.writestr("FLAME2020/Readme.pdf", b"%PDF")
    assert main(["assets", "install-flame", str(zpath), "--to-npz"]) == 0
    with np.load(isolated / "env" / "flame" / "generic_model.npz") as z:
        assert np.array_equal(z["shapedirs"], arrays["shapedirs"])


def test_install_flame_refuses_bad_files(isolated, tiny_arrays, capsys):
    bad = isolated / "generic_model.pkl"
    bad.write_bytes(pickle.dumps(tiny_arrays, protocol=2))  # 40 vertices: not FLAME
    assert main(["assets", "install-flame", str(bad)]) == 2
    assert "5023" in capsys.readouterr().err
    assert not (isolated / "env" / "flame" / "generic_model.pkl").exists()
    assert main(["assets", "install-flame", str(isolated / "nope.pkl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _fake_checkpoint(path, fmt="x3dtalker-generator"):
    """A safetensors file with only a header (what the resolver reads); ``fmt`` None = no metadata."""
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.zeros(1, np.float32)}, str(path), metadata=None if fmt is None else {"format": fmt})
    return path


def test_trained_checkpoint_beats_bootstrap_and_foreign_files_are_ignored(isolated):
    folder = isolated / "env" / "3dxtalker"
    bundled = assets.BUNDLED_CHECKPOINTS / "3dxtalker_bootstrap.safetensors"
    # Fresh install: only the bundled bootstrap.
    assert assets.find_asset("generator") == bundled
    # A copy of the bootstrap in the model folder does not count as trained; foreign safetensors are skipped.
    _fake_checkpoint(folder / "3dxtalker_bootstrap.safetensors")
    _fake_checkpoint(folder / "model.safetensors", fmt=None)
    _fake_checkpoint(folder / "wavlm-base-plus" / "model.safetensors")          # inside an encoder folder
    (folder / "broken.safetensors").write_bytes(b"\x00" * 3)
    assert assets.is_bootstrap_checkpoint(assets.find_asset("generator"))
    # Any trained checkpoint wins over a bootstrap; what `train` writes wins over other names.
    mine = _fake_checkpoint(folder / "my_run.safetensors")
    assert assets.find_asset("generator") == mine
    trained = _fake_checkpoint(isolated / "cache" / "x3dtalker" / "models" / "3dxtalker" / "generator.safetensors")
    assert assets.find_asset("generator") == trained
    ranked = assets.generator_checkpoints()
    assert ranked[:2] == [trained, mine] and bundled in ranked
    assert all(p.name != "model.safetensors" and p.name != "broken.safetensors" for p in ranked)


def test_header_reader_needs_no_weights(tmp_path):
    path = _fake_checkpoint(tmp_path / "a.safetensors")
    assert assets.safetensors_metadata(path) == {"format": "x3dtalker-generator"}
    assert assets.safetensors_metadata(tmp_path / "missing.safetensors") is None
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 16)
    assert assets.safetensors_metadata(tmp_path / "junk.safetensors") is None
