"""``eval`` command: score a checkpoint, or already generated sequences, with the SPEC §7 metrics.

::

    eval --checkpoint CKPT --data DIR --out report.json        # generate, then score against DIR
    eval --pred PRED_DIR --data DIR --out report.json          # score existing predictions
    eval --checkpoint CKPT --audio a.wav b.wav --out r.json    # real speech, no ground truth

``DIR`` holds sequence folders (SPEC §1); a prediction for ``DIR/<rel>`` is ``PRED_DIR/<rel>`` as a
sequence folder, ``PRED_DIR/<rel>/params.npz`` (the ``generate`` output) or ``PRED_DIR/<rel>.npz``.
A Markdown table is written next to the JSON (``.md``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate a checkpoint or predicted sequences (LVE, MVE, UFVE, UFDD, BA, jaw-envelope r)",
        description="Metrics of SPEC §7 on decoded FLAME meshes. Modes: spec (mm) and authors (the 3DXTalker "
                    "evaluation code's definitions, metres, REFERENCE-NOTES §8).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="generator checkpoint (.safetensors path or model-folder name)")
    src.add_argument("--pred", help="folder of predicted sequences, mirroring --data")
    p.add_argument("--data", help="folder of ground-truth sequence folders with audio.wav")
    p.add_argument("--audio", nargs="+", help="speech files or folders of .wav (no ground truth; with --checkpoint)")
    p.add_argument("--out", required=True, help="report JSON (a Markdown table is written beside it)")
    p.add_argument("--mode", choices=("spec", "authors", "both"), default="both", help="metric definitions")
    p.add_argument("--steps", type=int, default=32, help="ODE steps when generating (default 32)")
    p.add_argument("--seed", type=int, default=0, help="noise seed when generating")
    p.add_argument("--limit", type=int, default=None, help="score at most this many clips")
    p.add_argument("--save-pred", help="write generated sequences here (sequence folders), to re-score with --pred")
    p.add_argument("--flame", help="FLAME model file (default: the flame_model asset)")
    p.add_argument("--device", default=None, help="torch device (default: CUDA if available)")
    p.set_defaults(func=handler)


def _audio_files(items: list[str]) -> list[Path]:
    from ..errors import X3DError

    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files += sorted(path.glob("*.wav"))
        elif path.is_file():
            files.append(path)
        else:
            raise X3DError(f"audio not found: {path}")
    if not files:
        raise X3DError(f"no .wav files in {items}")
    return files


def find_prediction(pred_root: Path, rel: Path):
    """The predicted :class:`FlameSequence` for data clip ``rel``, or None."""
    from ..data.layout import read_sequence_dir
    from ..params import FlameSequence

    folder = pred_root / rel
    if (folder / "posecode.npy").is_file():
        return read_sequence_dir(folder)[0]
    for f in (folder / "params.npz", pred_root / f"{rel}.npz"):
        if f.is_file():
            return FlameSequence.load(f)
    return None


def handler(args: argparse.Namespace) -> int:
    import numpy as np

    from ..audio import load_audio
    from ..data.layout import list_sequence_dirs, read_sequence_dir, write_sequence_dir
    from ..errors import X3DError
    from ..flame import load_flame_model, load_masks
    from ..io_utils import atomic_path
    from ..params import FlameParams
    from .evaluate import ClipInput, Scorer, markdown_table, summarize

    modes = ("spec", "authors") if args.mode == "both" else (args.mode,)
    if args.audio and args.pred:
        raise X3DError("--audio needs --checkpoint (predictions for bare audio come from a generator)")
    if not args.data and not args.audio:
        raise X3DError("give --data DIR (ground-truth sequences) or --audio FILES (speech only)")

    # (name, audio path, ground-truth params or None)
    items: list[tuple[str, Path, np.ndarray | None]] = []
    if args.data:
        root = Path(args.data)
        for folder in list_sequence_dirs(root):
            seq, wav = read_sequence_dir(folder)
            if wav is None:
                raise X3DError(f"{folder} has no audio.wav; eval needs the clip's speech")
            items.append((str(folder.relative_to(root)), wav, seq.params))
    for wav in (_audio_files(args.audio) if args.audio else []):
        items.append((wav.stem, wav, None))
    if args.limit is not None:
        items = items[: args.limit]
    if not items:
        raise X3DError(f"no sequence folders found in {args.data}")

    t0 = time.perf_counter()
    flame = load_flame_model(args.flame)
    if args.device:
        flame = flame.to(args.device)
    scorer = Scorer(flame, load_masks(), modes, device=args.device)
    timing = {"features": 0.0, "generate": 0.0, "score": 0.0}
    generator = None
    if args.checkpoint:
        from ..model import load_generator

        generator = load_generator(args.checkpoint, device=args.device)

    per_clip = []
    from tqdm import tqdm

    for name, wav, gt in tqdm(items, desc="eval", unit="clip"):
        audio = load_audio(wav)
        if generator is not None:
            from ..audio import extract_features
            from ..model import generate_sequence

            s = time.perf_counter()
            feats = extract_features(wav, linguistic=generator.config.model.linguistic_encoder,
                                     emotion=generator.config.model.emotion_encoder, device=args.device)
            timing["features"] += time.perf_counter() - s
            reference = FlameParams.from_vector(gt[0]) if gt is not None else FlameParams.zeros()
            s = time.perf_counter()
            seq = generate_sequence(generator, reference, feats, steps=args.steps, seed=args.seed)
            timing["generate"] += time.perf_counter() - s
            if args.save_pred:
                write_sequence_dir(Path(args.save_pred) / name, seq)
            pred = seq.params
        else:
            found = find_prediction(Path(args.pred), Path(name))
            if found is None:
                raise X3DError(f"no prediction for clip {name} in {args.pred} (expected a sequence folder, "
                               f"{name}/params.npz or {name}.npz)")
            pred = found.params
        s = time.perf_counter()
        per_clip.append(scorer.score(ClipInput(name, pred, audio, gt)))
        timing["score"] += time.perf_counter() - s

    frames = sum(c["frames"] for c in per_clip)
    throughput = {k: {"seconds": v, "fps": (frames / v if v > 0 else None)} for k, v in timing.items() if v > 0}
    report = {
        "modes": list(modes),
        "source": {"checkpoint": args.checkpoint, "pred": args.pred, "data": args.data, "audio": args.audio,
                   "steps": args.steps if args.checkpoint else None, "seed": args.seed if args.checkpoint else None},
        "summary": summarize(per_clip, modes),
        "throughput": throughput,
        "wall_seconds": time.perf_counter() - t0,
        "clips": per_clip,
    }
    out = Path(args.out)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(markdown_table(report))
    print(markdown_table(report))
    return 0
