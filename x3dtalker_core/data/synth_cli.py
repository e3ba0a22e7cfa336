"""``synth`` command: write the synthetic talking corpus (issue #9)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    from .synth.tts import DEFAULT_VALIDATION_VOICES, DEFAULT_VOICES

    p = subparsers.add_parser(
        "synth", help="write a synthetic talking corpus (TTS speech + teacher jaw/head motion)",
        description="Synthetic corpus in the 3DTalkingDataset layout: OUT/train/<voice>/<clip>, OUT/val/<voice>/<clip>, "
                    "OUT/split.json, OUT/manifest.json. Needs: apt-get install festival festvox-us-slt-hts festlex-cmu "
                    "flite espeak-ng wamerican.")
    p.add_argument("--out", required=True, help="output folder (clips already there with the same recipe are kept)")
    p.add_argument("--hours", type=float, default=None, help="hours of speech to write (train + validation; required unless --relabel)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--voices", nargs="+", default=list(DEFAULT_VOICES), metavar="ENGINE:VOICE",
                   help=f"voices, used round-robin (default: {' '.join(DEFAULT_VOICES)})")
    p.add_argument("--val-voices", nargs="*", default=None, metavar="ENGINE:VOICE",
                   help=f"voices held out whole for validation (default: those of {' '.join(DEFAULT_VALIDATION_VOICES)} "
                        "that are among --voices)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--clip-seconds", type=float, nargs=2, default=(10.5, 16.0), metavar=("MIN", "MAX"),
                   help="clip duration range in seconds (default 10.5 16)")
    p.add_argument("--augment", type=float, default=1.0, help="audio augmentation strength, 0 = clean (default 1)")
    p.add_argument("--relabel", action="store_true",
                   help="recompute the teacher jaw and face of the corpus already in --out from its phone timings "
                        "(no speech synthesis; --hours and the voice options are then read from its manifest)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from ..errors import X3DError
    from .synth.corpus import CorpusConfig, write_corpus
    from .synth.tts import DEFAULT_VALIDATION_VOICES

    if args.hours is None and not args.relabel:
        raise X3DError("give --hours (how much speech to write), or --relabel for an existing corpus")
    if args.workers < 1:
        raise X3DError(f"--workers must be >= 1, got {args.workers}")
    if args.relabel:
        from pathlib import Path

        from .synth.corpus import relabel_corpus

        if not (Path(args.out) / "manifest.json").is_file():
            raise X3DError(f"--relabel needs a corpus written by synth: no manifest.json in {args.out}")
        print(json.dumps({"out": str(args.out), **relabel_corpus(args.out, progress=not args.quiet)}))
        return 0
    voices = tuple(dict.fromkeys(args.voices))
    val = tuple(args.val_voices) if args.val_voices is not None else tuple(
        v for v in DEFAULT_VALIDATION_VOICES if v in voices)
    config = CorpusConfig(hours=args.hours, seed=args.seed, voices=voices, validation_voices=val,
                          clip_seconds=tuple(args.clip_seconds), augment=args.augment)
    manifest = write_corpus(args.out, config, workers=args.workers, progress=not args.quiet)
    print(json.dumps({"out": str(args.out), "clips": len(manifest["clips"]), "hours": manifest["hours"],
                      "train_voices": manifest["split"]["train"], "validation_voices": manifest["split"]["validation"]}))
    return 0
