"""Benchmark the offscreen renderer: depth frames/s at 512x512 of a moving FLAME head.

    python bench/render.py --json [--frames 100] [--size 512] [--compare-pyrender]

Prints one JSON object ``{"stage", "device", "frames", "seconds", "fps", ...}``:

* ``fps``: depth only through the streaming path the main job and the Render node use
  (:func:`~x3dtalker_core.render.stream.stream_video_frames`: 8-bit frames read back per frame);
* ``preview_depth_fps``: shaded preview + depth from one draw per frame (same path);
* ``files_fps``: the whole ``render_to_files`` (meshes decoded on demand, preview.mp4 + depth.mp4 encoded on
  their own threads while rendering), frames per second of wall time;
* ``float_depth_fps``, ``float_full_fps``: the float IMAGE-batch path (``render_sequence``: depth, and
  depth + normals + shaded), which the Wan window hand-off uses.

``--compare-pyrender`` also times pyrender (the product card's library) on the same frames, rebuilding
its mesh every frame as its API requires, to document the backend choice. Without a FLAME model a
sphere stands in for the head.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from x3dtalker_core.render import Framing, camera_preset, measure_depth_range, render_sequence  # noqa: E402
from x3dtalker_core.render.backend import create_backend  # noqa: E402
from x3dtalker_core.render.stream import stream_video_frames  # noqa: E402


def talking_sequence(frames: int):
    """FLAME parameters of a talking (jaw at 3 Hz), nodding head."""
    from x3dtalker_core.params import FlameSequence

    t = np.arange(frames) / 25.0
    pose = np.zeros((frames, 6), np.float32)
    pose[:, 3] = 0.15 * (1 + np.sin(2 * np.pi * 3 * t))  # jaw
    pose[:, 0] = 0.15 * np.sin(2 * np.pi * 0.5 * t)  # nod
    return FlameSequence.from_groups(np.zeros((frames, 100)), np.zeros((frames, 50)), pose)


def head_sequence(frames: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(T, V, 3) vertices of a talking, nodding head and faces; FLAME when available."""
    t = np.arange(frames) / 25.0
    try:
        from x3dtalker_core.render import flame_vertices

        verts, faces = flame_vertices(talking_sequence(frames))
        return verts, faces, "flame"
    except Exception as exc:  # no FLAME asset: fall back to a sphere of similar size
        import trimesh

        print(f"FLAME unavailable ({exc}); using a sphere", file=sys.stderr)
        sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.1)
        base = np.asarray(sphere.vertices, np.float32)
        verts = base[None] * (1 + 0.05 * np.sin(2 * np.pi * t))[:, None, None].astype(np.float32)
        return verts, np.asarray(sphere.faces, np.int64), "sphere"


def files_seconds(frames: int, size: int) -> float:
    """Wall time of ``render_to_files`` writing preview.mp4 + depth.mp4 (no mesh files) for the same motion."""
    import tempfile

    from x3dtalker_core.render.files import RenderSettings, render_to_files

    seq = talking_sequence(frames)
    settings = RenderSettings(width=size, height=size, camera="static", glb=False)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        render_to_files(seq, out, settings, show_progress=False)
        return time.perf_counter() - start


def time_pyrender(verts: np.ndarray, faces: np.ndarray, camera, size: int) -> float:
    """Depth-only frames/s with pyrender, rebuilding the mesh each frame."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import pyrender
    import trimesh

    renderer = pyrender.OffscreenRenderer(size, size)
    scene = pyrender.Scene()
    cam_pose = np.linalg.inv(camera.view[0])
    scene.add(pyrender.PerspectiveCamera(yfov=float(camera.fov_y[0])), pose=cam_pose)
    node = None
    start = time.perf_counter()
    for v in verts:
        if node is not None:
            scene.remove_node(node)
        mesh = pyrender.Mesh.from_trimesh(trimesh.Trimesh(v, faces, process=False), smooth=False)
        node = scene.add(mesh)
        renderer.render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY)
    seconds = time.perf_counter() - start
    renderer.delete()
    return len(verts) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--compare-pyrender", action="store_true")
    args = parser.parse_args()

    verts, faces, mesh_name = head_sequence(args.frames)
    camera = camera_preset("static", Framing.fit(verts), args.frames, 25.0)
    probe = create_backend("auto", 8, 8, faces, verts.shape[1])
    device = f"{probe.name}: {probe.renderer_info}"
    probe.close()
    render_sequence(verts[:5], faces, camera.slice(0, 5), args.size, args.size, outputs=("depth",))  # warm-up
    depth_range = measure_depth_range(verts, faces, camera, args.size, args.size)

    def stream_seconds(layers: tuple[str, ...]) -> float:
        start = time.perf_counter()
        for _ in stream_video_frames(verts, faces, camera, args.size, args.size, depth_range, layers):
            pass
        return time.perf_counter() - start

    depth_s = stream_seconds(("depth",))
    preview_depth_s = stream_seconds(("preview", "depth"))
    start = time.perf_counter()
    render_sequence(verts, faces, camera, args.size, args.size, outputs=("depth",))
    float_depth_s = time.perf_counter() - start
    start = time.perf_counter()
    render_sequence(verts, faces, camera, args.size, args.size, outputs=("depth", "normals", "shaded"))
    float_full_s = time.perf_counter() - start
    files_s = files_seconds(args.frames, args.size) if mesh_name == "flame" else None

    result = {
        "stage": "render_depth",
        "device": device,
        "frames": args.frames,
        "seconds": round(depth_s, 4),
        "fps": round(args.frames / depth_s, 2),
        "size": args.size,
        "mesh": f"{mesh_name} ({verts.shape[1]} vertices, {faces.shape[0]} faces)",
        "preview_depth_fps": round(args.frames / preview_depth_s, 2),
        "files_fps": None if files_s is None else round(args.frames / files_s, 2),
        "float_depth_fps": round(args.frames / float_depth_s, 2),
        "float_full_fps": round(args.frames / float_full_s, 2),
        "cpu_count": os.cpu_count(),
    }
    if args.compare_pyrender:
        result["pyrender_depth_fps"] = round(time_pyrender(verts, faces, camera, args.size), 2)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
