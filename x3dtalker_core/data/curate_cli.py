"""``curate``: filter and normalise a folder of talking videos (paper Appendix B.1)."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "curate", help="filter + normalise talking videos (duration, SNR, language, sync, 512² 25 fps)",
        description="Curate talking videos into training material: duration (and stitching of short clips), "
                    "speech SNR, Whisper language ID, SyncNet audio-visual sync, then a centre crop at 25 fps "
                    "with 16 kHz audio. Writes OUT/clips/*.mp4|wav and OUT/manifest*.jsonl (one row per "
                    "input). Re-running resumes; --shard i/n splits the work across machines.")
    p.add_argument("--videos", required=True, help="folder of input videos (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (clips + manifest)")
    p.add_argument("--shard", default=None, help="i/n: process only shard i of n (0-based), e.g. $SLURM_ARRAY_TASK_ID/64")
    g = p.add_argument_group("filters (defaults: the paper's)")
    g.add_argument("--no-duration", dest="duration", action="store_false", help="keep clips of any length")
    g.add_argument("--min-duration", type=float, default=10.0, help="seconds (default 10)")
    g.add_argument("--stitch", default=None, metavar="folder|REGEX",
                   help="stitch short clips sharing identity+emotion into 10-20 s sequences: 'folder' groups "
                        "the clips of one folder, a regex groups by its named groups")
    g.add_argument("--stitch-max", type=float, default=20.0, help="longest stitched sequence, seconds (default 20)")
    g.add_argument("--no-snr", dest="snr", action="store_false", help="skip the SNR filter")
    g.add_argument("--min-snr", type=float, default=8.0, help="dB (default 8)")
    g.add_argument("--no-language", dest="language", action="store_false", help="skip Whisper language ID")
    g.add_argument("--language", dest="language_code", default="en", help="language code to keep (default en)")
    g.add_argument("--min-language-prob", type=float, default=0.8, help="default 0.8")
    g.add_argument("--whisper", default=None, help="openai-whisper checkpoint .pt (default: asset 'whisper')")
    g.add_argument("--no-sync", dest="sync", action="store_false", help="skip the audio-visual sync filter")
    g.add_argument("--sync-model", default="auto", choices=("auto", "syncnet", "motion"),
                   help="auto = SyncNet when its weights are installed, else the weights-free motion check")
    g.add_argument("--syncnet", default=None, help="syncnet_v2.model (default: asset 'syncnet')")
    g.add_argument("--min-sync-conf", type=float, default=None, help="default 5.0 (SyncNet) / 0.3 (motion)")
    g.add_argument("--max-sync-offset", type=int, default=3, help="largest |AV offset| kept, frames (default 3)")
    g.add_argument("--sync-seconds", type=float, default=20.0, help="seconds of each clip scored for sync")
    n = p.add_argument_group("normalisation")
    n.add_argument("--size", type=int, default=512, help="square output side, pixels (default 512)")
    n.add_argument("--fps", type=float, default=25.0, help="output frame rate (default 25)")
    n.add_argument("--crf", type=int, default=18, help="x264 quality of the clips (default 18)")
    p.add_argument("--device", default="cpu", help="torch device for Whisper/SyncNet (default cpu)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from .curate import CurateConfig, curate, parse_shard

    config = CurateConfig(
        duration=args.duration, min_duration=args.min_duration, snr=args.snr, min_snr_db=args.min_snr,
        language=args.language, language_code=args.language_code, min_language_prob=args.min_language_prob,
        sync=args.sync, sync_model=args.sync_model, min_sync_conf=args.min_sync_conf,
        max_sync_offset=args.max_sync_offset, sync_seconds=args.sync_seconds, size=args.size, fps=args.fps,
        stitch=args.stitch, stitch_max=args.stitch_max, crf=args.crf,
    )
    summary = curate(args.videos, args.out, config, parse_shard(args.shard), whisper_path=args.whisper,
                     syncnet_path=args.syncnet, device=args.device, progress=args.progress)
    print(json.dumps({"processed": summary.processed, "kept": summary.kept, "rejected": summary.rejected,
                      "skipped_done": summary.skipped, "seconds": round(summary.seconds, 2)}))
    return 0
