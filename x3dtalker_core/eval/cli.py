"""``eval`` command: score a checkpoint, or already generated sequences, with the SPEC §7 metrics.

::

    eval --checkpoint CKPT --data DIR --out report.json        # generate, then score against DIR
    eval --pred PRED_DIR --data DIR --out report.json          # score existing predictions
    eval --checkpoint CKPT --audio a.wav b.wav --out r.json    # real speech, no ground truth
    eval --checkpoint CKPT --real-speech DIR --out r.json      # real read speech with transcripts
    eval --checkpoint CKPT --real-speech DIR --pause-gaps 0.4 1.0 --out r.json   # ... joined, with pauses

``--real-speech DIR`` holds ``.wav`` files and their transcripts (a ``transcription`` file in the
CMU format of Debian's ``pocketsphinx-testdata``, or ``<name>.txt`` beside each wav); phones come
from pocketsphinx forced alignment (:mod:`.align`) and the lip-sync measures of :mod:`.lipsync`
(bilabial closure, open-vowel/bilabial gap ratio, gap-opening r, pauses closed) are reported. The
synthetic corpus's clips carry their phones, so ``--data`` reports the same measures.
``--pause-gaps MIN MAX`` joins the folder's clips, in name order (consecutive sentences of one
reading), into one recording whose pauses between sentences last MIN–MAX s (seeded by ``--seed``),
filled with the recordings' own silence (:mod:`.pauses`): single sentences hold no pause of 0.3 s,
the joined reading does, so "lips shut in pauses" can be measured on real speech.

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
    p.add_argument("--real-speech", help="folder of .wav files with transcripts (lip-sync measures on forced-aligned "
                   "phones; with --checkpoint; needs pip install pocketsphinx==5.1.1)")
    p.add_argument("--pause-gaps", type=float, nargs=2, metavar=("MIN", "MAX"),
                   help="with --real-speech: join the clips in name order into one reading with pauses of MIN-MAX "
                        "seconds of the recordings' own silence between them (measures lips shut in pauses)")
    p.add_argument("--smoothing", type=int, nargs=2, default=(7, 2), metavar=("WINDOW", "ORDER"),
                   help="Savitzky-Golay smoothing of generated sequences (default 7 2)")
    p.add_argument("--no-smoothing", action="store_true", help="score generated sequences unsmoothed")
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


def real_speech_items(folder: str | Path) -> list[tuple[Path, str]]:
    """(wav, transcript) pairs of a folder: ``transcription`` file (CMU format) or ``<name>.txt`` files."""
    from ..errors import X3DError
    from .align import read_transcriptions

    folder = Path(folder)
    wavs = sorted(folder.glob("*.wav"))
    if not wavs:
        raise X3DError(f"no .wav files in {folder}")
    texts = read_transcriptions(folder / "transcription") if (folder / "transcription").is_file() else {}
    items = []
    for wav in wavs:
        text = texts.get(wav.stem)
        if text is None and wav.with_suffix(".txt").is_file():
            text = wav.with_suffix(".txt").read_text(encoding="utf-8", errors="replace")
        if text is None:
            raise X3DError(f"no transcript for {wav.name}: add '{wav.stem}.txt' or a line in {folder}/transcription")
        items.append((wav, text))
    return items


def joined_reading(items: list[tuple[Path, str]], gaps: tuple[float, float], seed: int):
    """The (wav, transcript) clips aligned and joined, in order, with pauses of ``gaps`` = (MIN, MAX) s
    (:func:`.pauses.join_with_pauses`)."""
    from ..audio import load_audio
    from .align import forced_align
    from .pauses import AlignedClip, join_with_pauses, pause_gaps

    clips = []
    for wav, text in items:
        audio = load_audio(wav)
        clips.append(AlignedClip(wav.stem, audio, forced_align(audio, text)))
    return join_with_pauses(clips, pause_gaps(len(clips) - 1, gaps[0], gaps[1], seed), name="joined")


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
    from ..data.synth.tts import Phone
    from .align import forced_align
    from .lipsync import inner_lip_gap, lipsync_counts, pool_lipsync

    if (args.audio or args.real_speech) and args.pred:
        raise X3DError("--audio/--real-speech need --checkpoint (predictions for bare audio come from a generator)")
    if not args.data and not args.audio and not args.real_speech:
        raise X3DError("give --data DIR (ground-truth sequences), --audio FILES (speech only) or --real-speech DIR")
    smoothing = None if args.no_smoothing else tuple(args.smoothing)

    # (name, audio path or waveform, ground-truth params or None, phones or None, transcript or None)
    items: list[tuple[str, Path | np.ndarray, np.ndarray | None, tuple | None, str | None]] = []
    if args.data:
        root = Path(args.data)
        for folder in list_sequence_dirs(root):
            seq, wav = read_sequence_dir(folder)
            if wav is None:
                raise X3DError(f"{folder} has no audio.wav; eval needs the clip's speech")
            phones = seq.metadata.get("phones")
            phones = tuple(Phone(str(n), float(a), float(b)) for n, a, b in phones) if phones else None
            items.append((str(folder.relative_to(root)), wav, seq.params, phones, None))
    for wav in (_audio_files(args.audio) if args.audio else []):
        items.append((wav.stem, wav, None, None, None))
    if args.pause_gaps and not args.real_speech:
        raise X3DError("--pause-gaps joins --real-speech clips; give --real-speech DIR")
    real = real_speech_items(args.real_speech) if args.real_speech else []
    if args.pause_gaps:
        joined = joined_reading(real, args.pause_gaps, args.seed)
        items.append((joined.name, joined.audio, None, joined.phones, None))
        if args.save_pred:
            import soundfile as sf

            Path(args.save_pred).mkdir(parents=True, exist_ok=True)
            sf.write(str(Path(args.save_pred) / f"{joined.name}.wav"), joined.audio, 16000, subtype="PCM_16")
    else:
        for wav, text in real:
            items.append((wav.stem, wav, None, None, text))
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

    per_clip, lip_counts, lip_counts_gt = [], [], []
    from tqdm import tqdm

    for name, wav, gt, phones, transcript in tqdm(items, desc="eval", unit="clip"):
        audio = load_audio(wav)
        if transcript is not None:
            phones = forced_align(audio, transcript)
        if generator is not None:
            from ..audio import extract_features
            from ..pipeline import generate_motion

            s = time.perf_counter()
            feats = extract_features(wav, linguistic=generator.config.model.linguistic_encoder,
                                     emotion=generator.config.model.emotion_encoder, device=args.device)
            timing["features"] += time.perf_counter() - s
            reference = FlameParams.from_vector(gt[0]) if gt is not None else FlameParams.zeros()
            s = time.perf_counter()
            seq = generate_motion(generator, reference, feats, steps=args.steps, seed=args.seed, smoothing=smoothing,
                                  flame_model=flame)
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
        scores = scorer.score(ClipInput(name, pred, audio, gt))
        if phones:
            counts = lipsync_counts(inner_lip_gap(scorer.decode(pred)), phones)
            lip_counts.append(counts)
            scores["lipsync"] = pool_lipsync([counts])
            if gt is not None:
                lip_counts_gt.append(lipsync_counts(inner_lip_gap(scorer.decode(gt)), phones))
        per_clip.append(scores)
        timing["score"] += time.perf_counter() - s

    frames = sum(c["frames"] for c in per_clip)
    throughput = {k: {"seconds": v, "fps": (frames / v if v > 0 else None)} for k, v in timing.items() if v > 0}
    report = {
        "modes": list(modes),
        "source": {"checkpoint": args.checkpoint, "pred": args.pred, "data": args.data, "audio": args.audio,
                   "real_speech": args.real_speech,
                   "steps": args.steps if args.checkpoint else None, "seed": args.seed if args.checkpoint else None},
        "summary": summarize(per_clip, modes),
        "lipsync": pool_lipsync(lip_counts) if lip_counts else None,
        "lipsync_gt": pool_lipsync(lip_counts_gt) if lip_counts_gt else None,
        "smoothing": list(smoothing) if smoothing and args.checkpoint else None,
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
