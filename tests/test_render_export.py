"""Animated GLB (morph targets) and zipped OBJ sequences read back exactly."""

import json
import zipfile

import numpy as np
import pytest

from x3dtalker_core.errors import X3DError
from x3dtalker_core.render.export import export_glb, export_obj_sequence, read_glb_animation


def wobbling_mesh(frames: int = 12, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n, 3)).astype(np.float32) * 0.1
    t = np.arange(frames)[:, None, None]
    verts = base[None] + 0.01 * np.sin(t * 0.5 + base[None] * 20)
    faces = np.stack([np.arange(n - 2), np.arange(1, n - 1), np.arange(2, n)], 1)
    return verts.astype(np.float32), faces


def test_glb_per_frame_round_trip_and_trimesh(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    verts, faces = wobbling_mesh()
    path = export_glb(tmp_path / "m.glb", verts, faces, fps=25.0)
    anim = read_glb_animation(path)
    assert anim.vertices.shape == verts.shape
    np.testing.assert_allclose(anim.vertices, verts, atol=1e-6)
    np.testing.assert_array_equal(anim.faces, faces)
    np.testing.assert_allclose(anim.times, np.arange(12) / 25.0, atol=1e-7)
    assert anim.extras["frames"] == 12 and anim.extras["encoding"] == "per_frame"
    scene = trimesh.load(path)  # a standard glTF reader sees the base mesh
    (mesh,) = scene.geometry.values()
    assert mesh.vertices.shape == (30, 3) and len(mesh.faces) == len(faces)


def test_glb_compressed_targets(tmp_path):
    verts, faces = wobbling_mesh(frames=20)
    anim = read_glb_animation(export_glb(tmp_path / "p.glb", verts, faces, fps=16.0, n_targets=19))
    np.testing.assert_allclose(anim.vertices, verts, atol=1e-5)  # full rank: exact
    few = read_glb_animation(export_glb(tmp_path / "q.glb", verts, faces, fps=16.0, n_targets=2))
    assert few.extras["encoding"] == "pca" and few.extras["morph_targets"] == 2
    err = np.linalg.norm(few.vertices - verts, axis=-1).max()
    assert err == pytest.approx(few.extras["max_error_m"], rel=1e-3, abs=1e-6)


def test_glb_single_frame_and_bad_input(tmp_path):
    verts, faces = wobbling_mesh(frames=1)
    anim = read_glb_animation(export_glb(tmp_path / "s.glb", verts, faces, fps=25.0))
    np.testing.assert_allclose(anim.vertices, verts, atol=1e-7)
    with pytest.raises(X3DError):
        export_glb(tmp_path / "x.glb", verts, faces + 100, fps=25.0)


def test_obj_sequence_zip(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    verts, faces = wobbling_mesh(frames=3)
    path = export_obj_sequence(tmp_path / "seq.zip", verts, faces, fps=25.0)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["frame_00000.obj", "frame_00001.obj", "frame_00002.obj", "sequence.json"]
        assert json.loads(zf.read("sequence.json"))["frames"] == 3
        mesh = trimesh.load(zf.open("frame_00002.obj"), file_type="obj", process=False)
    np.testing.assert_allclose(mesh.vertices, verts[2], atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, faces)
