"""Rigged, animated GLB of a FLAME sequence: a skin with FLAME's joints plus named expression morph targets.

FLAME is itself "blendshapes, then linear blend skinning", which is exactly glTF's skinned mesh with morph
targets, so the file reproduces the FLAME forward pass instead of storing meshes:

* mesh: the sequence's identity (mean shape coefficients) at rest; skin weights are FLAME's (every FLAME
  vertex has at most four joints, so one ``JOINTS_0``/``WEIGHTS_0`` set is exact);
* joints ``root`` (global head rotation), ``neck``, ``jaw``, ``eye_L``, ``eye_R`` at FLAME's rest joints,
  with their rotations animated (``root`` and ``jaw`` move; the others hold FLAME's values);
* morph targets: the expression directions, named (ARKit names where the sequence speaks ARKit or the model
  names its directions, else ``expression_NN``; ``mesh.extras.targetNames``), plus nine
  ``jaw_corrective_N`` targets carrying FLAME's jaw pose correctives, weighted by ``R_jaw - I``;
* one animation ``talk``: joint rotations and morph weights, one key per frame.

The only approximation is that FLAME recomputes its joints from the expression-deformed mesh while a skin
keeps them fixed (measured by :func:`rig_error_mm`). The size is the mesh and targets (a few MB, once) plus
about 300 bytes per frame. ``mode="exact"`` keeps the vertex-exact per-frame export
(:func:`x3dtalker_core.render.export.export_glb`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import __version__
from ..errors import X3DError, check_cancelled
from ..flame.arkit import ARKIT_EXPRESSION_NAMES, ARKIT_SPACE, expression_space_of, load_arkit_shapes
from ..io_utils import atomic_path
from ..params import FlameSequence
from .gltf import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GlbReader, GltfBuffer, pack_glb
from .track import expression_space_of_sequence

JOINT_NAMES = ("root", "neck", "jaw", "eye_L", "eye_R")
"""FLAME's five joints, in its kinematic-tree order."""

GLB_MODES = ("rigged", "exact")


@dataclass(frozen=True)
class ExpressionTargets:
    """Morph targets for a sequence's expression: (K, V, 3) directions, their names and (T, K) weights."""

    directions: np.ndarray
    names: tuple[str, ...]
    weights: np.ndarray
    source: str


def expression_targets(sequence: FlameSequence, model) -> ExpressionTargets:
    """The expression morph targets and their per-frame weights for ``sequence`` on ``model``.

    A sequence that speaks ARKit on a model that does not gets the ARKit shapes themselves (vertex space,
    which is what an ARKit weight means); otherwise the model's own expression directions.
    """
    n_exp = min(model.n_exp, sequence.exp.shape[1])
    if expression_space_of_sequence(sequence) == ARKIT_SPACE and expression_space_of(model) != ARKIT_SPACE:
        names = ARKIT_EXPRESSION_NAMES
        dirs = load_arkit_shapes().select(names)
        return ExpressionTargets(dirs, names, sequence.exp[:, : len(names)], "arkit shapes")
    dirs = model.exp_dirs[:, :n_exp].detach().cpu().numpy().T.reshape(n_exp, -1, 3)
    own = tuple(getattr(model, "expression_names", ()) or ())
    names = tuple(own[i] if i < len(own) else f"expression_{i:02d}" for i in range(n_exp))
    return ExpressionTargets(dirs.astype(np.float32), names, sequence.exp[:, :n_exp], "model expression directions")


def _quaternions(rotvecs: np.ndarray) -> np.ndarray:
    """(T, 3) axis-angle -> (T, 4) unit quaternions (x, y, z, w), sign-continuous for LINEAR slerp."""
    from scipy.spatial.transform import Rotation

    q = Rotation.from_rotvec(np.asarray(rotvecs, np.float64)).as_quat()
    flips = np.cumprod(np.where(np.einsum("ij,ij->i", q[1:], q[:-1]) < 0, -1.0, 1.0))
    q[1:] *= flips[:, None]
    return q.astype(np.float32)


def _rotation_matrices(rotvecs: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(rotvecs, np.float64)).as_matrix()


def export_rigged_glb(path: str | Path, sequence: FlameSequence, model) -> Path:
    """Write the rigged, animated GLB of ``sequence`` on ``model`` (a :class:`FlameModel`), atomically."""
    if model.num_joints != len(JOINT_NAMES):
        raise X3DError(f"the rigged GLB needs FLAME's {len(JOINT_NAMES)} joints; this model has {model.num_joints}")
    t_total = sequence.num_frames
    v_template = model.v_template.detach().cpu().double().numpy()
    n_shape = min(model.n_shape, sequence.shape.shape[1])
    shape_dirs = model.shape_dirs[:, :n_shape].detach().cpu().double().numpy()
    rest = v_template + (shape_dirs @ sequence.shape[:, :n_shape].mean(0).astype(np.float64)).reshape(-1, 3)
    joints = model.J_regressor.detach().cpu().double().numpy() @ rest  # (5, 3)
    parents = model.parents

    expr = expression_targets(sequence, model)
    # FLAME's jaw pose correctives: posedirs columns 9..17 belong to joint 2 (the jaw), weighted by R - I.
    pose_dirs = model.pose_dirs.detach().cpu().numpy()  # (36, 3V)
    jaw_dirs = pose_dirs[9:18].reshape(9, -1, 3)
    jaw_features = (_rotation_matrices(sequence.jaw_pose) - np.eye(3)).reshape(t_total, 9)
    target_dirs = np.concatenate([expr.directions, jaw_dirs], axis=0).astype(np.float32)
    target_names = (*expr.names, *(f"jaw_corrective_{i}" for i in range(9)))
    weights = np.concatenate([expr.weights, jaw_features], axis=1).astype(np.float32)

    skin = model.lbs_weights.detach().cpu().numpy()
    top = np.argsort(-skin, axis=1)[:, :4]
    top_w = np.take_along_axis(skin, top, axis=1)
    lost = float((skin.sum(1) - top_w.sum(1)).max())
    if lost > 1e-6:
        raise X3DError(f"a vertex has more than four skinning joints (weight {lost:.3g} left out); use --glb-mode exact")
    top_w = (top_w / top_w.sum(1, keepdims=True)).astype(np.float32)
    joints_0 = np.where(top_w > 0, top, 0).astype(np.uint8)

    buf = GltfBuffer()
    attributes = {
        "POSITION": buf.add(rest.astype(np.float32), "VEC3", ARRAY_BUFFER, bounds=True),
        "JOINTS_0": buf.add(joints_0, "VEC4", ARRAY_BUFFER),
        "WEIGHTS_0": buf.add(top_w, "VEC4", ARRAY_BUFFER),
    }
    faces = model.faces.detach().cpu().numpy()
    primitive = {
        "attributes": attributes,
        "indices": buf.add(faces.astype(np.uint32).reshape(-1), "SCALAR", ELEMENT_ARRAY_BUFFER),
        "mode": 4,
        "material": 0,
        "targets": [{"POSITION": buf.add_sparse_vec3(d)} for d in target_dirs],
    }
    mesh = {"name": "flame_head", "primitives": [primitive], "weights": [float(w) for w in weights[0]],
            "extras": {"targetNames": list(target_names)}}

    inverse_bind = np.tile(np.eye(4, dtype=np.float32), (len(JOINT_NAMES), 1, 1))
    inverse_bind[:, :3, 3] = -joints
    # glTF matrices are column-major: transpose each before flattening.
    ibm = buf.add(np.ascontiguousarray(inverse_bind.transpose(0, 2, 1)).reshape(-1, 16), "MAT4")

    first = 1  # node 0 is the mesh, joints follow
    nodes: list[dict] = [{"name": "flame_head", "mesh": 0, "skin": 0}]
    for j, name in enumerate(JOINT_NAMES):
        offset = joints[j] - (joints[parents[j]] if parents[j] >= 0 else 0.0)
        node = {"name": name, "translation": [float(x) for x in offset]}
        children = [first + c for c in range(len(JOINT_NAMES)) if parents[c] == j]
        if children:
            node["children"] = children
        nodes.append(node)

    times = buf.add((np.arange(t_total) / sequence.fps).astype(np.float32), "SCALAR", bounds=True)
    samplers, channels = [], []
    for joint, rotvecs in ((0, sequence.head_pose), (2, sequence.jaw_pose)):
        q = _quaternions(rotvecs)
        nodes[first + joint]["rotation"] = [float(x) for x in q[0]]
        samplers.append({"input": times, "output": buf.add(q, "VEC4"), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": first + joint, "path": "rotation"}})
    samplers.append({"input": times, "output": buf.add(weights.reshape(-1), "SCALAR"), "interpolation": "LINEAR"})
    channels.append({"sampler": len(samplers) - 1, "target": {"node": 0, "path": "weights"}})

    extras = {
        "generator": f"x3dtalker_core {__version__}", "encoding": "rigged", "frames": t_total, "fps": sequence.fps,
        "vertices": int(rest.shape[0]), "expression_space": expression_space_of_sequence(sequence),
        "expression_targets": expr.source, "morph_targets": len(target_names),
        "units": "metres", "flame_model": str(getattr(model, "source", "")),
    }
    gltf = {
        "asset": {"version": "2.0", "generator": extras["generator"], "extras": extras},
        "scene": 0,
        "scenes": [{"nodes": [0, first]}],
        "nodes": nodes,
        "meshes": [mesh],
        "skins": [{"name": "flame", "joints": [first + j for j in range(len(JOINT_NAMES))], "skeleton": first,
                   "inverseBindMatrices": ibm}],
        "materials": [{"name": "clay", "pbrMetallicRoughness": {
            "baseColorFactor": [0.78, 0.74, 0.71, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.6},
            "doubleSided": True}],
        "animations": [{"name": "talk", "samplers": samplers, "channels": channels}],
        "bufferViews": buf.views,
        "accessors": buf.accessors,
    }
    path = Path(path)
    with atomic_path(path, suffix=".glb") as tmp:
        tmp.write_bytes(pack_glb(gltf, bytes(buf.blob)))
    return path


def export_sequence_glb(path: str | Path, sequence: FlameSequence, model, mode: str = "rigged",
                        vertices: np.ndarray | None = None, progress: Callable[[int, int], None] | None = None,
                        cancel: Callable[[], object] | None = None) -> Path:
    """``mesh.glb`` of a sequence: ``rigged`` (skin + named morph targets) or ``exact`` (per-frame vertices).

    ``rigged`` holds a few arrays of (T, K) weights, so its memory and size barely grow with the clip;
    ``exact`` decodes every frame's mesh (T x V x 3 floats in memory), for short clips. The file is
    written atomically: a cancelled or failed export leaves nothing at ``path``.

    Args:
        vertices: (T, V, 3) decoded meshes for ``exact`` when the caller already has them.
        progress: ``progress(done, total)``.
        cancel: called between steps; True (or its own exception) stops the export.
    """
    if mode not in GLB_MODES:
        raise X3DError(f"unknown GLB mode '{mode}'; use one of {GLB_MODES}")
    if mode == "rigged":
        check_cancelled(cancel, "GLB export")
        path = export_rigged_glb(path, sequence, model)
        if progress is not None:
            progress(1, 1)
        return path
    from ..flame.model import vertices_for_sequence
    from ..render.export import export_glb

    frames = sequence.num_frames
    if vertices is None:
        # Decoding is most of the work: it gets the bar's first frames; packing and writing the last step.
        decode_progress = None if progress is None else (lambda done, _total: progress(done, frames + 1))
        vertices = vertices_for_sequence(model, sequence.params, progress=decode_progress, cancel=cancel)
    check_cancelled(cancel, "GLB export")
    path = export_glb(path, vertices, model.faces.detach().cpu().numpy(), sequence.fps)
    if progress is not None:
        progress(frames + 1, frames + 1)
    return path


# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RiggedGlb:
    """A rigged GLB read back (what a glTF client computes), for checks."""

    vertices: np.ndarray  # (T, V, 3) skinned meshes at the key times
    times: np.ndarray  # (T,)
    target_names: tuple[str, ...]
    weights: np.ndarray  # (T, K)
    extras: dict


def read_rigged_glb(path: str | Path) -> RiggedGlb:
    """Evaluate a GLB from :func:`export_rigged_glb` at its key times: morph, then skin (glTF's order)."""
    from scipy.spatial.transform import Rotation

    reader = GlbReader(path)
    gltf, read = reader.gltf, reader.accessor
    prim = gltf["meshes"][0]["primitives"][0]
    base = read(prim["attributes"]["POSITION"]).astype(np.float64)
    targets = np.stack([read(t["POSITION"]) for t in prim["targets"]]).astype(np.float64)
    joints_0 = read(prim["attributes"]["JOINTS_0"]).astype(np.int64)
    weights_0 = read(prim["attributes"]["WEIGHTS_0"]).astype(np.float64)
    skin = gltf["skins"][0]
    ibm = read(skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    anim = gltf["animations"][0]
    times = read(anim["samplers"][0]["input"])
    t_total = times.shape[0]
    nodes = gltf["nodes"]
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
    local_rot = {i: np.repeat(np.asarray(n.get("rotation", [0, 0, 0, 1]), np.float64)[None], t_total, 0)
                 for i, n in enumerate(nodes)}
    morph = np.zeros((t_total, targets.shape[0]))
    for ch in anim["channels"]:
        out = read(anim["samplers"][ch["sampler"]]["output"])
        if ch["target"]["path"] == "rotation":
            local_rot[ch["target"]["node"]] = out.reshape(t_total, 4).astype(np.float64)
        elif ch["target"]["path"] == "weights":
            morph = out.reshape(t_total, -1).astype(np.float64)

    def world(node: int) -> np.ndarray:
        m = np.tile(np.eye(4), (t_total, 1, 1))
        m[:, :3, :3] = Rotation.from_quat(local_rot[node]).as_matrix()
        m[:, :3, 3] = nodes[node].get("translation", [0, 0, 0])
        return m if node not in parent else world(parent[node]) @ m

    joint_mats = np.stack([world(j) for j in skin["joints"]], axis=1) @ ibm[None]  # (T, J, 4, 4)
    morphed = base[None] + np.einsum("tk,kvc->tvc", morph, targets)
    blended = np.einsum("vi,tvixy->tvxy", weights_0, joint_mats[:, joints_0])  # (T, V, 4, 4)
    verts = np.einsum("tvxy,tvy->tvx", blended[..., :3, :3], morphed) + blended[..., :3, 3]
    names = tuple(gltf["meshes"][0].get("extras", {}).get("targetNames", ()))
    return RiggedGlb(verts.astype(np.float32), times, names, morph.astype(np.float32),
                     gltf.get("asset", {}).get("extras", {}))


def rig_error_mm(path: str | Path, sequence: FlameSequence, model) -> dict[str, float]:
    """How far the rigged GLB's meshes are from the FLAME forward pass: max and mean vertex error, mm."""
    from ..flame.model import vertices_for_sequence

    ref = vertices_for_sequence(model, sequence.params)
    err = np.linalg.norm(read_rigged_glb(path).vertices - ref, axis=-1) * 1000.0
    return {"max_mm": float(err.max()), "mean_mm": float(err.mean())}
