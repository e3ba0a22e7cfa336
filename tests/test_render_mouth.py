"""Mouth interior proxy (render.mouth): found from topology + skinning, rigid with head/jaw, fills the hole,
hidden behind closed lips, works on another FLAME-format file; and the far-hole measure itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import gl_available, shared_models_dir
from x3dtalker_core.render.mouth import (
    FLAME_JAW_JOINT,
    boundary_loops,
    build_mouth_proxy,
    find_lip_ring,
    largest_far_region,
    mouth_proxy_for_model,
    pose_mouth_proxy,
)

TARGET = 0.002  # 0.2 % of the head area


needs_gl = pytest.mark.skipif(not gl_available(), reason="no offscreen OpenGL (install libegl1 libgl1-mesa-dri)")


def _posed(model, proxy, pose, expression=None, shape=None):
    """(FLAME-only vertices, FLAME + proxy vertices) as numpy, and the joint transforms."""
    with torch.no_grad():
        verts, transforms = model.forward_with_transforms(shape=shape, expression=expression, pose=pose)
        both = torch.cat([verts, pose_mouth_proxy(proxy, transforms)], 1)
    return verts.numpy(), both.numpy(), transforms


def _views(frames: int, target=(0.0, -0.05, 0.04), radius=0.3, angles=((0, 0), (35, 10), (0, -25), (0, 25), (-60, 0))):
    from x3dtalker_core.render import Camera, look_at

    for yaw, pitch in angles:
        y, p = math.radians(yaw), math.radians(pitch)
        eye = np.asarray(target) + radius * np.array([math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)])
        yield Camera("perspective", np.repeat(look_at(eye, np.asarray(target))[None], frames, 0),
                     fov_y=math.radians(22))


def _far_shares(vertices, faces, camera, size=256):
    from x3dtalker_core.render import measure_depth_range, render_sequence

    depth_range = measure_depth_range(vertices, faces, camera, size, size)
    out = render_sequence(vertices, faces, camera, size, size, outputs=(), depth_range=depth_range)
    return largest_far_region(out.view_depth, depth_range)


# ----------------------------------------------------------------------------------------------
# the measure


def test_largest_far_region_counts_enclosed_far_holes_only():
    size = 101
    yy, xx = np.mgrid[:size, :size]
    head = (yy - 50) ** 2 + (xx - 50) ** 2 <= 40**2
    depth = np.where(head, 1.0, 0.0).astype(np.float32)
    depth[head & (xx > 80)] = 1.2  # far strip on the silhouette's edge (an ear): not a hole
    hole = (yy - 40) ** 2 + (xx - 45) ** 2 <= 6**2
    empty = (yy - 65) ** 2 + (xx - 45) ** 2 <= 3**2
    depth[hole] = 1.19  # in the far 10 % of [1.0, 1.2]
    depth[empty] = 0.0  # nothing drawn at all
    frames = np.stack([depth, np.where(head, 1.0, 0.0).astype(np.float32)])
    share = largest_far_region(frames)
    assert share[0] == pytest.approx(hole.sum() / head.sum())
    assert share[1] == 0.0
    depth[hole] = 1.1  # nearer than the far 10 %: reads as a surface, the empty hole is now the largest
    assert largest_far_region(depth)[0] == pytest.approx(empty.sum() / head.sum())


# ----------------------------------------------------------------------------------------------
# topology and skinning


def test_boundary_loops_are_oriented_along_their_faces():
    faces = np.array([[0, 1, 2], [0, 2, 3]])  # a quad: one loop 0-1-2-3
    (loop,) = boundary_loops(faces)
    assert len(loop) == 4
    edges = {(int(a), int(b)) for f in faces for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))}
    assert all((int(a), int(b)) in edges for a, b in zip(loop, np.roll(loop, -1)))


def test_lip_ring_from_topology_and_jaw_weights(dev_flame, dev_masks):
    weights = dev_flame.lbs_weights.numpy()
    ring = find_lip_ring(dev_flame.faces.numpy(), weights)
    assert ring is not None and len(ring) == 32
    jaw = weights[ring, FLAME_JAW_JOINT]
    assert jaw.min() < 0.2 and jaw.max() > 0.8  # upper lip on the head, lower lip on the jaw
    # it is the inner edge of FLAME's lip region (the masks were not used to find it): inside the region's
    # outline seen from the front, at most 15 mm behind it; the only other opening (the neck) is far away
    v = dev_flame.v_template.numpy()
    lips = v[dev_masks["lips"]]
    margin = 0.002
    assert np.all((v[ring, :2] > lips[:, :2].min(0) - margin) & (v[ring, :2] < lips[:, :2].max(0) + margin))
    assert np.linalg.norm(v[ring][:, None] - lips[None], axis=-1).min(1).max() < 0.015
    others = [loop for loop in boundary_loops(dev_flame.faces.numpy()) if not np.array_equal(loop, ring)]
    assert all(np.linalg.norm(v[loop][:, None] - lips[None], axis=-1).min() > 0.05 for loop in others)


def test_no_lip_ring_no_proxy(tiny_flame):
    assert mouth_proxy_for_model(tiny_flame) is None


def test_proxy_closes_the_mouth_with_consistent_orientation(dev_flame):
    proxy = mouth_proxy_for_model(dev_flame)
    faces = np.concatenate([dev_flame.faces.numpy(), proxy.faces])
    n = dev_flame.num_vertices + proxy.num_vertices
    assert faces.min() >= 0 and faces.max() == n - 1
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    code = directed[:, 0] * n + directed[:, 1]
    assert np.unique(code).size == code.size  # no edge used twice the same way: one orientation
    # only the neck opening stays open: the lip ring is stitched shut
    (neck,) = boundary_loops(faces)
    assert not set(neck.tolist()) & set(proxy.lip_ring.tolist())
    torch.testing.assert_close(proxy.weights.sum(1), torch.ones(proxy.num_vertices))


def test_teeth_rigid_with_head_and_jaw(dev_flame):
    proxy = mouth_proxy_for_model(dev_flame)
    pose = torch.tensor([[0.2, -0.3, 0.1, 0.3, 0.05, 0.0]])
    _, both, transforms = _posed(dev_flame, proxy, pose)
    rest = proxy.rest[0].double()
    v = dev_flame.num_vertices
    for part, joint in (("upper_teeth", dev_flame.parents[FLAME_JAW_JOINT]), ("lower_teeth", FLAME_JAW_JOINT),
                        ("tongue", FLAME_JAW_JOINT)):
        a, b = proxy.parts[part]
        A = transforms[0, joint].double()
        expected = rest[a:b] @ A[:, :3].T + A[:, 3]
        np.testing.assert_allclose(both[0, v + a : v + b], expected.numpy(), atol=1e-5)


def test_translation_moves_the_proxy_with_the_head(dev_flame):
    proxy = mouth_proxy_for_model(dev_flame)
    pose = torch.tensor([[0.1, 0.2, 0.0, 0.25, 0.0, 0.0]])
    shift = torch.tensor([[0.01, -0.02, 0.3]])
    with torch.no_grad():
        v0, a0 = dev_flame.forward_with_transforms(pose=pose)
        v1, a1 = dev_flame.forward_with_transforms(pose=pose, translation=shift)
    torch.testing.assert_close(v1, v0 + shift[:, None], atol=1e-6, rtol=0)
    torch.testing.assert_close(pose_mouth_proxy(proxy, a1), pose_mouth_proxy(proxy, a0) + shift[:, None],
                               atol=1e-6, rtol=0)


def test_flame_vertices_switch(dev_flame, tiny_flame):
    from x3dtalker_core.params import FlameSequence
    from x3dtalker_core.render import flame_vertices

    pose = np.zeros((3, 6), np.float32)
    pose[:, 3] = [0.0, 0.2, 0.35]
    seq = FlameSequence.from_groups(np.zeros((3, 100)), np.zeros((3, 50)), pose)
    plain, plain_faces = flame_vertices(seq, model=dev_flame, mouth_interior=False)
    both, faces = flame_vertices(seq, model=dev_flame)
    assert plain.shape == (3, 5023, 3) and both.shape[1] > 5023 and faces.shape[0] > plain_faces.shape[0]
    np.testing.assert_allclose(both[:, :5023], plain, atol=1e-6)
    np.testing.assert_array_equal(faces[: plain_faces.shape[0]], plain_faces)
    tiny, _ = flame_vertices(seq, model=tiny_flame)  # no lip ring: nothing to add
    assert tiny.shape[1] == tiny_flame.num_vertices


# ----------------------------------------------------------------------------------------------
# rendered: the hole is gone, and closed lips hide everything


@needs_gl
def test_open_jaw_has_no_far_hole(dev_flame):
    from x3dtalker_core.render import Framing, camera_preset, orthographic_from_emoca

    proxy = mouth_proxy_for_model(dev_flame)
    frames = 6
    pose = torch.zeros(frames, 6)
    pose[:, 3] = torch.linspace(0.05, 0.35, frames)
    pose[3:, :3] = torch.tensor([0.15, -0.25, 0.05])  # head turned and tilted
    flame_only, both, _ = _posed(dev_flame, proxy, pose)
    faces = dev_flame.faces.numpy()
    all_faces = np.concatenate([faces, proxy.faces])
    cameras = [camera_preset("static", Framing.fit(flame_only), frames, 25.0),
               orthographic_from_emoca(np.array([8.0, 0.0, 0.04]))]
    for camera in cameras:
        before = _far_shares(flame_only, faces, camera)
        after = _far_shares(both, all_faces, camera)
        assert before[2] > 0.01  # the measure sees FLAME's hole (frame 2: jaw 0.17 rad, facing the camera)
        assert after.max() < TARGET, after


@needs_gl
def test_proxy_hidden_behind_closed_lips(dev_flame):
    """At rest the render is unchanged from every side; with lip expressions at jaw 0 the proxy may show
    through lips that part, but never in front of a lip surface (a pixel whose FLAME depth was near)."""
    from x3dtalker_core.render import render_sequence

    proxy = mouth_proxy_for_model(dev_flame)
    names = list(dev_flame.expression_names or ())
    lip_shapes = [n for n in ("mouthRollUpper", "mouthRollLower", "mouthPressLeft", "mouthPucker", "mouthFunnel",
                              "mouthShrugUpper", "mouthSmileLeft", "mouthStretchLeft") if n in names]
    frames = 1 + len(lip_shapes)
    expression = torch.zeros(frames, 50)
    for t, name in enumerate(lip_shapes, start=1):
        expression[t, names.index(name)] = 1.0
    flame_only, both, _ = _posed(dev_flame, proxy, torch.zeros(frames, 6), expression=expression)
    faces = dev_flame.faces.numpy()
    all_faces = np.concatenate([faces, proxy.faces])
    for camera in _views(frames):
        a = render_sequence(flame_only, faces, camera, 192, 192, outputs=()).view_depth
        b = render_sequence(both, all_faces, camera, 192, 192, outputs=()).view_depth
        np.testing.assert_array_equal(a[0], b[0])  # neutral: nothing of the proxy shows
        nearer = a - b
        poke = (nearer > 1e-4) & (nearer < 0.03) & (a > 0)  # in front of a surface that was close by
        assert not poke.any(), {lip_shapes[t - 1]: int(poke[t].sum()) for t in range(1, frames) if poke[t].any()}


# ----------------------------------------------------------------------------------------------
# another FLAME-format file: FLAME 2020 mean template, MEAD identities, LAM ARKit expressions reversed


@pytest.fixture(scope="module")
def other_flame(tmp_path_factory):
    root = shared_models_dir()
    found = root / "flame" / "found" if root else None
    if found is None or not (found / "flame2023_open" / "flame2023_open_partial.npz").is_file():
        pytest.skip("the FLAME pieces in flame/found/ are not available")
    from x3dtalker_core.flame import load_flame_model

    with np.load(found / "flame2023_open" / "flame2023_open_partial.npz") as z:
        arrays = {k: z[k] for k in ("f", "weights", "posedirs", "J_regressor", "kintree_table")}
    with np.load(found / "flame2020_mead_subject_templates" / "mead47_flame2020_neutral_templates.npz") as z:
        mean, subjects = z["flame2020_zero_pose"], z["vertices"]
    with np.load(found / "lam_arkit51_blendshapes_flame_topology" / "lam_p2-1_arkit51_flame5023.npz") as z:
        deltas = z["deltas"][::-1]  # another order, and with jawOpen as an expression shape
    shapedirs = np.zeros((mean.shape[0], 3, 300 + deltas.shape[0]), np.float32)
    shapedirs[:, :, : subjects.shape[0]] = (subjects - mean[None]).transpose(1, 2, 0)
    shapedirs[:, :, 300:] = deltas.transpose(1, 2, 0)
    path = tmp_path_factory.mktemp("flame") / "other_flame.npz"
    np.savez(path, v_template=mean, shapedirs=shapedirs, **arrays)
    return load_flame_model(path, landmarks=False)


@needs_gl
def test_other_flame_file_batched_identities(other_flame):
    from x3dtalker_core.render import Framing, camera_preset

    shape = torch.zeros(3, 47)
    shape[0, 0] = shape[1, 18] = shape[2, 30] = 1.0  # three MEAD subjects
    proxy = mouth_proxy_for_model(other_flame, shape)
    assert proxy.rest.shape[0] == 3
    faces = other_flame.faces.numpy()
    all_faces = np.concatenate([faces, proxy.faces])
    for jaw, check in ((0.35, "open"), (0.0, "closed")):
        pose = torch.zeros(3, 6)
        pose[:, 3] = jaw
        flame_only, both, _ = _posed(other_flame, proxy, pose, shape=shape)
        camera = camera_preset("static", Framing.fit(flame_only), 3, 25.0)
        if check == "open":
            assert _far_shares(flame_only, faces, camera).min() > 0.01
            assert _far_shares(both, all_faces, camera).max() < TARGET
        else:
            from x3dtalker_core.render import render_sequence

            a = render_sequence(flame_only, faces, camera, 192, 192, outputs=()).view_depth
            b = render_sequence(both, all_faces, camera, 192, 192, outputs=()).view_depth
            np.testing.assert_array_equal(a, b)


def test_build_rejects_a_rootless_jaw(dev_flame):
    from x3dtalker_core.errors import X3DError

    with pytest.raises(X3DError, match="no parent"):
        build_mouth_proxy(dev_flame.v_template, dev_flame.faces.numpy(), dev_flame.lbs_weights, dev_flame.parents,
                          jaw_joint=0)
