"""Measure the mouth hole in the depth video, without and with the mouth interior (render.mouth).

    python bench/mouth.py --json [--params out/params.npz] [--video out/] [--size 512]

For each clip, renders depth the way ``render`` does: the same camera choice (photo > fitted > static), the
clip's own depth range and 512x512. It reports the per-frame share of the head's area taken by the largest
hole whose depth reads as far background (:func:`x3dtalker_core.render.mouth.largest_far_region`), with the
mouth interior off (``before``) and on (``after``). The clips are:

* ``jaw_sweep``: the template head opening its jaw from 0 to 0.35 rad and holding it there, static camera.
* ``params``: a generated clip (``--params``; the main job writes ``out/params.npz``).
* ``video``: with ``--video DIR``, ``DIR/depth.mp4`` as written (decoded, mapped back to metres with
  ``DIR/render.json``'s depth range).

Prints one JSON object; per clip ``{"before"|"after": {"max", "median", "frames_over_target"}, "frames"}``,
shares in percent of the head area, with the target 0.2 %.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from x3dtalker_core.render.mouth import largest_far_region  # noqa: E402

TARGET_PERCENT = 0.2


def summary(shares: np.ndarray) -> dict:
    pct = 100.0 * np.asarray(shares)
    return {"max": round(float(pct.max()), 4), "median": round(float(np.median(pct)), 4),
            "frames_over_target": int((pct >= TARGET_PERCENT).sum())}


def jaw_sweep(frames: int = 40):
    from x3dtalker_core.params import FlameSequence

    pose = np.zeros((frames, 6), np.float32)
    pose[:, 3] = 0.35 * np.clip(np.arange(frames) / (frames // 2), 0.0, 1.0)
    return FlameSequence.from_groups(np.zeros((frames, 100)), np.zeros((frames, 50)), pose)


def measure_clip(sequence, model, size: int) -> dict:
    from x3dtalker_core.render import flame_vertices, measure_depth_range, render_sequence
    from x3dtalker_core.render.files import photo_framing, select_camera

    out: dict = {"frames": sequence.num_frames}
    camera = None
    for label, mouth in (("before", False), ("after", True)):
        verts, faces = flame_vertices(sequence, model=model, mouth_interior=mouth)
        if camera is None:  # one camera for both (the presets frame the FLAME mesh alone)
            out["camera"], camera = select_camera(None, verts[:, : model.num_vertices], sequence.cam, sequence.fps,
                                                  size, size, photo_framing(sequence))
        started = time.perf_counter()
        depth_range = measure_depth_range(verts, faces, camera, size, size)
        frames = render_sequence(verts, faces, camera, size, size, outputs=(), depth_range=depth_range)
        out[label] = summary(largest_far_region(frames.view_depth, depth_range))
        out[label]["render_s"] = round(time.perf_counter() - started, 2)
        out[label]["vertices"] = int(verts.shape[1])
    return out


def measure_video(folder: Path) -> dict:
    from x3dtalker_core.render.images import DEFAULT_DEPTH_FLOOR, DepthRange, image_to_depth
    from x3dtalker_core.render.video import read_video_frames

    report = json.loads((folder / "render.json").read_text())
    depth_range = DepthRange(*report["depth_range_m"])
    image = read_video_frames(folder / "depth.mp4")[..., 0].astype(np.float32) / 255.0
    image = np.where(image < DEFAULT_DEPTH_FLOOR / 2, 0.0, image)  # codec noise on the black background
    view_depth = image_to_depth(image, depth_range)
    return {"frames": int(image.shape[0]), "file": summary(largest_far_region(view_depth, depth_range))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, help="a generated clip (.npz), e.g. the main job's out/params.npz")
    parser.add_argument("--video", type=Path, help="a render output folder with depth.mp4 and render.json")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    from x3dtalker_core.flame import load_flame_model
    from x3dtalker_core.params import FlameSequence

    model = load_flame_model(landmarks=False)
    result: dict = {"stage": "mouth", "target_percent": TARGET_PERCENT, "size": args.size,
                    "flame": Path(model.source).name, "clips": {}}
    result["clips"]["jaw_sweep"] = measure_clip(jaw_sweep(), model, args.size)
    if args.params is not None:
        result["clips"]["params"] = measure_clip(FlameSequence.load(args.params), model, args.size)
    if args.video is not None:
        result["clips"]["video"] = measure_video(args.video)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
