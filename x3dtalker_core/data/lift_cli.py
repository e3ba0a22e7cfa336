"""``lift``: talking videos -> FLAME sequence folders in the dataset layout (paper §3.1)."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "lift", help="videos -> FLAME sequence folders (EMOCA or landmark fitter per frame)",
        description="Reconstruct the face of every frame (EMOCA v2 = the paper's, or the offline MediaPipe "
                    "landmark fitter), keep one identity per clip, fill frames without a face, optionally "
                    "smooth, and write OUT/<video path>/ in the 3DTalkingDataset layout (shape/exp/pose/detail/"
                    "cam, envelope, audio.wav). Curated clips' sibling .wav files are used as the audio. "
                    "Re-running resumes; --shard i/n splits the work.")
    p.add_argument("--videos", required=True, help="folder of videos, e.g. the clips/ of a curate run")
    p.add_argument("--out", required=True, help="dataset folder to write (train --data OUT)")
    p.add_argument("--backend", default="landmarks", choices=("landmarks", "emoca"),
                   help="per-frame reconstruction (default landmarks; emoca needs the EMOCA_v2_lr_mse_20 asset)")
    p.add_argument("--emoca", default=None, help="EMOCA model folder (default: asset 'emoca')")
    p.add_argument("--smooth", type=int, default=0, help="Savitzky-Golay window in frames (odd >= 5; 0 = off)")
    p.add_argument("--max-missing", type=float, default=0.2,
                   help="reject a clip when more than this fraction of frames has no face (default 0.2)")
    p.add_argument("--size", type=int, default=None, help="rescale + centre-crop frames to this square size first")
    p.add_argument("--shard", default=None, help="i/n: process only shard i of n (0-based)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from .curate import parse_shard
    from .lift import LiftConfig, lift

    config = LiftConfig(backend=args.backend, smooth=args.smooth, max_missing=args.max_missing, size=args.size)
    s = lift(args.videos, args.out, config, parse_shard(args.shard), emoca_path=args.emoca, progress=args.progress)
    print(json.dumps({"processed": s.processed, "lifted": s.lifted, "failed": s.failed, "skipped_done": s.skipped,
                      "seconds": round(s.seconds, 2)}))
    return 0
