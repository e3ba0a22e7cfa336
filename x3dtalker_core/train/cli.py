"""``train`` command: precompute audio features, train or resume a generator (also under ``accelerate launch``)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train the flow-matching generator on 3DTalkingDataset-layout folders",
        description="Train the generator (paper §3.2). Runs unchanged under `accelerate launch` for several GPUs "
                    "or nodes. Features are precomputed once per clip (automatically, or with --precompute).",
        epilog="examples:\n"
               "  python -m x3dtalker_core train --config small --data DATA --out runs/small\n"
               "  python -m x3dtalker_core train --precompute --data DATA\n"
               "  accelerate launch --num_processes 2 -m x3dtalker_core train --config paper --data DATA --out runs/p\n"
               "  python -m x3dtalker_core train --config small --data DATA --out runs/small --resume latest",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", default="small", help="preset (paper, improved, small) or YAML file (default: small)")
    p.add_argument("--data", nargs="+", required=True, help="dataset folder(s) holding sequence folders")
    p.add_argument("--out", help="run folder (checkpoints, logs, generator.safetensors)")
    p.add_argument("--features", help="feature cache folder (default: <data>/.x3dtalker_features)")
    p.add_argument("--precompute", action="store_true", help="only precompute audio features, then exit")
    p.add_argument("--overwrite-features", action="store_true", help="recompute cached features")
    p.add_argument("--resume", help="'latest' or a checkpoints/step_* folder")
    p.add_argument("--stop-at", type=int, help="end this session after this step (resumable), keeping the schedule")
    p.add_argument("--max-steps", type=int, help="override train.max_steps")
    p.add_argument("--batch-size", type=int, help="override train.batch_size")
    p.add_argument("--precision", choices=["no", "bf16", "fp16"], help="override train.precision")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config value, e.g. --set flow.anchors=fixed (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from ..errors import X3DError
    from .config import apply_overrides, load_run_config

    config = load_run_config(args.config)
    config = apply_overrides(config, list(args.overrides))
    changes = {k: v for k, v in (("max_steps", args.max_steps), ("batch_size", args.batch_size),
                                 ("precision", args.precision)) if v is not None}
    if changes:
        config = config.with_train(**changes)
    if args.precompute:
        from .dataset import discover_clips, precompute_features

        entries = discover_clips(args.data, config.train.linguistic, config.train.emotion, args.features)
        counts = precompute_features(entries, config.train.linguistic, config.train.emotion,
                                     overwrite=args.overwrite_features, show_progress=not args.no_progress)
        print(json.dumps({"clips": len(entries), **counts}))
        return 0
    if not args.out:
        raise X3DError("--out is required for training (the run folder)")
    from .trainer import train

    result = train(config, args.data, args.out, features_dir=args.features, resume=args.resume,
                   stop_at=args.stop_at, show_progress=not args.no_progress)
    if result.checkpoint is not None and result.is_main:
        print(f"trained {result.steps} steps; checkpoint: {result.checkpoint}")
    return 0
