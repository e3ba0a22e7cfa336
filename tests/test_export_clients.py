"""Real clients read our exports: the Khronos glTF validator and Blender 3.4 (headless).

Install them with ``npm install -g gltf-validator`` (or point ``NODE_PATH`` at a local ``node_modules``) and
``apt-get install -y blender python3-numpy``; without them these tests skip and say so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers import talking_sequence
from x3dtalker_core.export.livelink import read_livelink_csv, write_livelink_csv
from x3dtalker_core.export.rig_glb import export_rigged_glb, read_rigged_glb
from x3dtalker_core.export.track import arkit_track
from x3dtalker_core.render.export import export_glb

CLIENTS = Path(__file__).resolve().parent / "clients"


def _node_env() -> dict[str, str] | None:
    """Environment in which ``node`` can require('gltf-validator'), or None."""
    node = shutil.which("node")
    if node is None:
        return None
    paths = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    npm = shutil.which("npm")
    if npm:
        root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60).stdout.strip()
        if root:
            paths.append(root)
    env = {**os.environ, "NODE_PATH": os.pathsep.join(paths)}
    found = subprocess.run([node, "-e", "require.resolve('gltf-validator')"], env=env, capture_output=True, timeout=60)
    return env if found.returncode == 0 else None


@pytest.fixture(scope="module")
def node_env():
    env = _node_env()
    if env is None:
        pytest.skip("the Khronos glTF validator is not installed (npm install -g gltf-validator)")
    return env


def validate(path: Path, env: dict) -> dict:
    run = subprocess.run(["node", str(CLIENTS / "gltf_validate.js"), str(path)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_gltf_validator_accepts_rigged_and_exact_glb(tmp_path, dev_flame, node_env):
    seq = talking_sequence(30)
    rigged = validate(export_rigged_glb(tmp_path / "rig.glb", seq, dev_flame), node_env)
    assert rigged["numErrors"] == 0, rigged["messages"]
    assert rigged["numWarnings"] == 0, rigged["messages"]
    verts = read_rigged_glb(tmp_path / "rig.glb").vertices
    exact = validate(export_glb(tmp_path / "exact.glb", verts, dev_flame.faces.numpy(), 25.0), node_env)
    assert exact["numErrors"] == 0, exact["messages"]


@pytest.fixture(scope="module")
def blender():
    exe = shutil.which("blender")
    if exe is None:
        pytest.skip("Blender is not installed (apt-get install -y blender python3-numpy)")
    return exe


def run_blender(exe: str, script: str, *args: str) -> None:
    run = subprocess.run([exe, "-b", "--factory-startup", "--python", str(CLIENTS / script), "--", *args],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "Traceback" not in run.stdout + run.stderr, (run.stdout + run.stderr)[-3000:]


def test_blender_imports_armature_and_animated_shape_keys(tmp_path, dev_flame, blender):
    seq = talking_sequence(30)
    path = export_rigged_glb(tmp_path / "rig.glb", seq, dev_flame)
    run_blender(blender, "blender_import_glb.py", str(path), str(tmp_path / "bl.json"), "25", "0", "20")
    report = json.loads((tmp_path / "bl.json").read_text())
    assert report["armatures"] == 1 and report["parent_is_armature"]
    assert report["bones"] == ["root", "neck", "jaw", "eye_L", "eye_R"]
    ours = read_rigged_glb(path)
    assert report["shape_keys"] == ["Basis", *ours.target_names]
    first, later = report["frames"]
    moved = [n for n in ours.target_names if abs(first["values"][n] - later["values"][n]) > 1e-3]
    assert len(moved) > 40  # the shape keys animate
    for frame in (first, later):  # Blender's evaluated mesh is our mesh (glTF +Y up -> Blender +Z up)
        np.testing.assert_allclose([frame["values"][n] for n in ours.target_names], ours.weights[frame["frame"]],
                                   atol=1e-5)
        world = np.asarray(frame["matrix_world"])
        co = np.asarray(frame["vertices"]).reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
        expected = ours.vertices[frame["frame"]]
        blender_frame = np.stack([expected[:, 0], -expected[:, 2], expected[:, 1]], axis=1)
        assert np.abs(co - blender_frame).max() < 1e-4  # 0.1 mm


def test_blender_drives_shape_keys_from_livelink_csv_by_name(tmp_path, dev_flame, blender):
    seq = talking_sequence(30)
    glb = export_rigged_glb(tmp_path / "rig.glb", seq, dev_flame)
    take = write_livelink_csv(tmp_path / "take.csv", arkit_track(seq, dev_flame), app_mouth_mirroring=False)
    run_blender(blender, "blender_livelink_csv.py", str(glb), str(take), str(tmp_path / "csv.json"), "0", "40")
    report = json.loads((tmp_path / "csv.json").read_text())
    assert len(report["matched"]) == 47  # every ARKit expression shape, by name
    # The rig moves the jaw with its bone and FLAME has no tongue; rotations are not shape keys.
    assert set(report["unmatched"]) == {"JawForward", "JawRight", "JawLeft", "JawOpen", "TongueOut", "HeadYaw",
                                        "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                                        "RightEyeYaw", "RightEyePitch", "RightEyeRoll"}
    csv_take = read_livelink_csv(take)
    for row in report["rows"]:
        for column, value in row["values"].items():
            assert value == pytest.approx(float(csv_take.column(column)[row["row"]]), abs=1e-5), column
