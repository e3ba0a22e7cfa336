"""Rigged GLB: FLAME joints + named morph targets reproduce the FLAME forward pass; size nearly constant."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import shared_models_dir, talking_sequence
from x3dtalker_core.errors import X3DError
from x3dtalker_core.export.gltf import GlbReader
from x3dtalker_core.export.rig_glb import (
    JOINT_NAMES,
    export_rigged_glb,
    export_sequence_glb,
    read_rigged_glb,
    rig_error_mm,
)
from x3dtalker_core.flame import FlameModel, flame_data_from_arrays, read_flame_arrays
from x3dtalker_core.flame.arkit import ARKIT_EXPRESSION_NAMES
from x3dtalker_core.render.export import read_glb_animation


def pca_dev_head() -> FlameModel:
    """The dev head without its expression names: a model that speaks FLAME-PCA."""
    arrays = read_flame_arrays(shared_models_dir() / "flame/flame_dev.npz")
    return FlameModel(flame_data_from_arrays({k: v for k, v in arrays.items() if not k.startswith("x3d_")}, "pca"))


def test_rigged_glb_reproduces_flame(tmp_path, dev_flame):
    seq = talking_sequence(40)
    path = export_rigged_glb(tmp_path / "rig.glb", seq, dev_flame)
    err = rig_error_mm(path, seq, dev_flame)
    assert err["max_mm"] < 0.05, err  # skin + morph targets = FLAME (joints fixed at the identity's rest)
    rig = read_rigged_glb(path)
    assert rig.target_names[:47] == ARKIT_EXPRESSION_NAMES  # the dev head names its directions
    assert rig.target_names[-9:] == tuple(f"jaw_corrective_{i}" for i in range(9))
    assert rig.extras["encoding"] == "rigged" and rig.extras["frames"] == 40
    np.testing.assert_allclose(rig.times, np.arange(40) / 25.0, atol=1e-6)
    gltf = GlbReader(path).gltf
    assert [gltf["nodes"][j]["name"] for j in gltf["skins"][0]["joints"]] == list(JOINT_NAMES)
    channels = {(gltf["nodes"][c["target"]["node"]]["name"], c["target"]["path"]) for c in gltf["animations"][0]["channels"]}
    assert channels == {("root", "rotation"), ("jaw", "rotation"), ("flame_head", "weights")}
    # The shared reader plays both encodings.
    anim = read_glb_animation(path)
    np.testing.assert_allclose(anim.vertices, rig.vertices)
    assert anim.faces.shape == (9976, 3)


def test_target_names_follow_the_expression_space(tmp_path):
    if shared_models_dir() is None:
        pytest.skip("X3DTALKER_MODELS does not point at a folder with flame/")
    pca = pca_dev_head()
    seq = talking_sequence(12, expression_space=None)
    rig = read_rigged_glb(export_rigged_glb(tmp_path / "pca.glb", seq, pca))
    assert rig.target_names[:50] == tuple(f"expression_{i:02d}" for i in range(50))
    assert rig_error_mm(tmp_path / "pca.glb", seq, pca)["max_mm"] < 0.05
    # A sequence that speaks ARKit on a PCA model: the ARKit shapes themselves, by name.
    arkit = read_rigged_glb(export_rigged_glb(tmp_path / "ark.glb", talking_sequence(12), pca))
    assert arkit.target_names[:47] == ARKIT_EXPRESSION_NAMES
    assert arkit.extras["expression_targets"] == "arkit shapes"


def test_rigged_size_is_nearly_constant_and_exact_mode_kept(tmp_path, dev_flame):
    short = export_rigged_glb(tmp_path / "10s.glb", talking_sequence(250), dev_flame).stat().st_size
    long = export_rigged_glb(tmp_path / "60s.glb", talking_sequence(1500), dev_flame).stat().st_size
    per_frame = (long - short) / 1250
    assert per_frame < 400 and long < 1.25 * short, (short, long)
    seq = talking_sequence(8)
    exact = export_sequence_glb(tmp_path / "exact.glb", seq, dev_flame, mode="exact")
    anim = read_glb_animation(exact)
    assert anim.extras["encoding"] == "per_frame"
    rigged = read_glb_animation(export_sequence_glb(tmp_path / "r.glb", seq, dev_flame))
    assert np.abs(anim.vertices - rigged.vertices).max() < 5e-5
    with pytest.raises(X3DError, match="unknown GLB mode"):
        export_sequence_glb(tmp_path / "x.glb", seq, dev_flame, mode="fbx")
