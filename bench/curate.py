"""Benchmark the curation and lifting stages on generated talking-head videos.

    python bench/curate.py --json [--videos 3] [--seconds 10] [--source-size 256] [--size 512] [--lift-frames 25]

Prints one JSON object ``{"stage": "curate", "device", "frames", "seconds", "fps", "stages": {...}}``:
``frames``/``seconds``/``fps`` cover the whole curate run (all filters + normalisation), ``stages``
gives frames/s per stage measured separately: ``probe`` (container headers), ``snr`` (audio decode +
SNR), ``language`` (Whisper; only with the ``whisper`` asset), ``sync`` (SyncNet with the ``syncnet``
asset, else the motion check), ``normalise`` (decode, scale, crop, H.264/AAC encode) and ``lift``
(the landmark fitter per frame; needs the MediaPipe face models). Needs the FLAME model and flite.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from x3dtalker_core import FPS
from x3dtalker_core.assets import try_find_asset
from x3dtalker_core.data.curate import CurateConfig, curate
from x3dtalker_core.data.curate.pipeline import (
    _sync,
    _to_sync_frame,
    _unit_audio,
    load_models,
)
from x3dtalker_core.data.curate.samples import (
    make_talking_video,
    render_jaw_atlas,
    speech,
)
from x3dtalker_core.data.curate.snr import estimate_snr_db
from x3dtalker_core.data.curate.units import plan_units
from x3dtalker_core.data.video import iter_frames, list_videos
from x3dtalker_core.render.video import probe_video
from x3dtalker_core.render.video import Mp4Writer


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def stage(frames: int, seconds: float, **extra) -> dict:
    return {"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / max(seconds, 1e-9), 2), **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--source-size", type=int, default=256)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--lift-frames", type=int, default=25, help="frames lifted for the lift stage (0 = skip)")
    args = ap.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    work = Path(tempfile.mkdtemp(prefix="bench-curate-"))
    src = work / "videos"
    atlas = render_jaw_atlas(args.source_size, levels=6)
    for i in range(args.videos):
        make_talking_video(src / f"v{i}.mp4", speech(args.seconds), atlas)
    paths = list_videos(src)
    units = plan_units(paths, src)
    frames = sum(int(round(probe_video(p, decode=False).video_seconds * FPS)) for p in paths)
    config = CurateConfig(size=args.size, language=try_find_asset("whisper") is not None)
    models = load_models(config, device=device)
    stages: dict = {}

    _, t = timed(lambda: [probe_video(p, decode=False) for p in paths])
    stages["probe"] = stage(frames, t)
    audios, t = timed(lambda: [_unit_audio(u, [int(round(probe_video(u.sources[0], decode=False).video_seconds * FPS))]) for u in units])
    _, t2 = timed(lambda: [estimate_snr_db(a) for a in audios])
    stages["snr"] = stage(frames, t + t2)
    if models.language is not None:
        _, t = timed(lambda: [models.language(a) for a in audios])
        stages["language"] = stage(frames, t, model=str(models.language.path.name))

    def normalise(unit, audio):
        sync_frames = []
        with Mp4Writer(work / "norm" / f"{unit.out_name}.mp4", FPS, audio) as writer:
            for f in iter_frames(unit.sources[0], FPS, args.size):
                writer.write(f[None])
                sync_frames.append(_to_sync_frame(f, models.sync_method))
        return np.stack(sync_frames)

    sync_inputs, t = timed(lambda: [normalise(u, a) for u, a in zip(units, audios)])
    stages["normalise"] = stage(frames, t, size=args.size)
    _, t = timed(lambda: [_sync(f, a, models) for f, a in zip(sync_inputs, audios)])
    stages["sync"] = stage(frames, t, method=models.sync_method)

    summary, total = timed(lambda: curate(src, work / "out", config, device=device, progress=False))
    if args.lift_frames and try_find_asset("mediapipe_face_mesh") is not None:
        from x3dtalker_core.data.lift.pipeline import make_reconstructor, track_frames

        rec = make_reconstructor("landmarks")
        clip = next((work / "out" / "clips").glob("*.mp4"))
        _, t = timed(lambda: track_frames(iter_frames(clip, FPS, None, max_frames=args.lift_frames), rec))
        stages["lift"] = stage(args.lift_frames, t, backend="landmarks")
    result = {"stage": "curate", "device": device, "frames": frames, "seconds": round(total, 3),
              "fps": round(frames / max(total, 1e-9), 2), "kept": summary.kept, "stages": stages}
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
