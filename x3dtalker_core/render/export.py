"""Mesh sequence files: animated GLB (morph targets) and a zipped OBJ sequence.

GLB layout (glTF 2.0, written by hand: trimesh has no morph-target animation writer): one mesh whose
base positions are frame 0; each morph target is a displacement from it; one animation drives the
mesh's morph *weights* with LINEAR interpolation at the clip's frame times. Two encodings:

- per frame (exact; the default up to :data:`MAX_FRAME_TARGETS` frames): target k is frame k+1, and
  at time k/fps only that target has weight 1 — interpolating between keys blends neighbouring frames;
- compressed (longer clips, or ``n_targets`` given): targets are the leading principal components of
  the displacements and the weights their per-frame coefficients; the reconstruction error is
  stored in the asset's ``extras``.

Blender's glTF importer, three.js (ComfyUI's Preview3D) and other glTF viewers play both encodings.
No normals are stored: they would go stale as the head turns, and viewers compute flat normals.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import X3DError
from ..export.gltf import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GlbReader, GltfBuffer, pack_glb
from ..io_utils import atomic_path
from .mesh import check_mesh_sequence

MAX_FRAME_TARGETS = 300
"""Up to this many frames (12 s at 25 fps) the GLB stores one exact morph target per frame."""

def _morph_encoding(verts: np.ndarray, n_targets: int | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Targets (K, V, 3) and per-frame weights (T, K) with ``verts[t] ~= verts[0] + sum_k w[t,k] target[k]``,
    and the max vertex error in metres."""
    t_total = verts.shape[0]
    disp = (verts[1:] - verts[0]).astype(np.float64)  # (T-1, V, 3)
    if n_targets is None and t_total - 1 <= MAX_FRAME_TARGETS:
        weights = np.zeros((t_total, t_total - 1), np.float32)
        weights[np.arange(1, t_total), np.arange(t_total - 1)] = 1.0
        return disp.astype(np.float32), weights, 0.0
    k = min(n_targets or MAX_FRAME_TARGETS, t_total - 1)
    flat = disp.reshape(t_total - 1, -1)
    _, _, vt = np.linalg.svd(flat, full_matrices=False)
    basis = vt[:k]  # (K, V*3) orthonormal rows
    coeff = np.concatenate([np.zeros((1, k)), flat @ basis.T], axis=0)  # frame 0 is the base: weights 0
    recon = coeff[1:] @ basis
    err = float(np.linalg.norm((recon - flat).reshape(t_total - 1, -1, 3), axis=-1).max()) if t_total > 1 else 0.0
    return basis.reshape(k, -1, 3).astype(np.float32), coeff.astype(np.float32), err


def export_glb(
    path: str | Path,
    vertices: np.ndarray,
    faces: np.ndarray,
    fps: float,
    n_targets: int | None = None,
) -> Path:
    """Write an animated GLB of ``vertices`` (T, V, 3) metres, ``faces`` (F, 3), at ``fps``, atomically.

    Args:
        n_targets: None = exact per-frame targets up to :data:`MAX_FRAME_TARGETS` frames, else
            principal-component targets; an int forces that many principal-component targets.
    """
    verts, faces = check_mesh_sequence(vertices, faces)
    if not fps > 0:
        raise X3DError(f"fps must be positive, got {fps}")
    if n_targets is not None and n_targets < 1:
        raise X3DError(f"number of morph targets must be positive, got {n_targets}")
    t_total = verts.shape[0]
    buf = GltfBuffer()
    position = buf.add(verts[0], "VEC3", ARRAY_BUFFER, bounds=True)
    indices = buf.add(faces.astype(np.uint32).reshape(-1), "SCALAR", ELEMENT_ARRAY_BUFFER)
    primitive: dict = {"attributes": {"POSITION": position}, "indices": indices, "mode": 4, "material": 0}
    mesh: dict = {"name": "head", "primitives": [primitive]}
    extras = {"generator": f"x3dtalker_core {__version__}", "frames": t_total, "fps": float(fps),
              "vertices": int(verts.shape[1])}
    animations = []
    if t_total > 1:
        targets, weights, err = _morph_encoding(verts, n_targets)
        primitive["targets"] = [{"POSITION": buf.add(tg, "VEC3", ARRAY_BUFFER, bounds=True)} for tg in targets]
        mesh["weights"] = [0.0] * len(targets)
        times = buf.add((np.arange(t_total) / fps).astype(np.float32), "SCALAR", bounds=True)
        values = buf.add(weights.reshape(-1), "SCALAR")
        animations.append({
            "name": "talk",
            "samplers": [{"input": times, "output": values, "interpolation": "LINEAR"}],
            "channels": [{"sampler": 0, "target": {"node": 0, "path": "weights"}}],
        })
        extras.update(morph_targets=len(targets), encoding="per_frame" if err == 0.0 else "pca",
                      max_error_m=err)
    gltf = {
        "asset": {"version": "2.0", "generator": extras["generator"], "extras": extras},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"name": "head", "mesh": 0}],
        "meshes": [mesh],
        "materials": [{"name": "clay", "pbrMetallicRoughness": {
            "baseColorFactor": [0.78, 0.74, 0.71, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.6},
            "doubleSided": True}],
        "bufferViews": buf.views,
        "accessors": buf.accessors,
    }
    if animations:
        gltf["animations"] = animations
    path = Path(path)
    with atomic_path(path, suffix=".glb") as tmp:
        tmp.write_bytes(pack_glb(gltf, bytes(buf.blob)))
    return path


@dataclass(frozen=True)
class GlbAnimation:
    """A morph-target animation read back by :func:`read_glb_animation`."""

    vertices: np.ndarray  # (T, V, 3) at the animation's key times
    faces: np.ndarray  # (F, 3)
    times: np.ndarray  # (T,) seconds
    extras: dict


def read_glb_animation(path: str | Path) -> GlbAnimation:
    """Decode the animated meshes of a GLB written by :func:`export_glb` or by the rigged exporter."""
    reader = GlbReader(path)
    gltf, read = reader.gltf, reader.accessor
    extras = gltf.get("asset", {}).get("extras", {})
    prim = gltf["meshes"][0]["primitives"][0]
    base = read(prim["attributes"]["POSITION"])
    faces = read(prim["indices"]).reshape(-1, 3).astype(np.int64)
    if extras.get("encoding") == "rigged":  # skin + morph targets: evaluate it as a glTF client would
        from ..export.rig_glb import read_rigged_glb

        rigged = read_rigged_glb(path)
        return GlbAnimation(rigged.vertices, faces, rigged.times, extras)
    if "animations" not in gltf:
        return GlbAnimation(base[None].copy(), faces, np.zeros(1, np.float32), extras)
    targets = np.stack([read(t["POSITION"]) for t in prim["targets"]])
    sampler = gltf["animations"][0]["samplers"][0]
    times = read(sampler["input"]).copy()
    weights = read(sampler["output"]).reshape(times.shape[0], targets.shape[0])
    verts = base[None] + np.einsum("tk,kvc->tvc", weights, targets)
    return GlbAnimation(verts.astype(np.float32), faces, times, extras)


def export_obj_sequence(path: str | Path, vertices: np.ndarray, faces: np.ndarray, fps: float) -> Path:
    """Write a zip of ``frame_00000.obj`` ... (one OBJ per frame) plus ``sequence.json`` (fps, frames)."""
    verts, faces = check_mesh_sequence(vertices, faces)
    face_text = "".join(f"f {a} {b} {c}\n" for a, b, c in (faces + 1))  # OBJ indices start at 1
    path = Path(path)
    with atomic_path(path, suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            zf.writestr("sequence.json", json.dumps({"frames": int(verts.shape[0]), "fps": float(fps),
                                                     "vertices": int(verts.shape[1]), "units": "metres"}))
            for t, frame in enumerate(verts):
                vert_text = "".join(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in frame.tolist())
                zf.writestr(f"frame_{t:05d}.obj", f"# x3dtalker_core frame {t}\n" + vert_text + face_text)
    return path
