"""``python -m x3dtalker_core audio ...``: encode a clip's audio-rich features, inspect them, list encoders."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("audio", help="audio-rich features (WavLM/mel, amplitude, emotion2vec/prosody)")
    sub = p.add_subparsers(dest="audio_command", metavar="<audio command>")

    enc = sub.add_parser(
        "encode", help="encode one audio file to features.npz",
        description="Encode one clip (any audio file) into per-frame features at 25 fps. The offline defaults "
        "'mel' and 'prosody' need no download but are WEAKER than the paper's 'wavlm' and 'emotion2vec'.",
    )
    enc.add_argument("--audio", required=True, help="audio file (wav, flac, ogg, mp3; others via PyAV)")
    enc.add_argument("--out", required=True, help="output .npz (written atomically)")
    enc.add_argument("--linguistic", default="ppg", choices=["ppg", "mel", "wavlm"],
                     help="linguistic encoder (default ppg: offline phonetic posteriorgrams (pip install hama==1.7.0); "
                          "mel: built in, weakest; wavlm: the paper's)")
    enc.add_argument("--emotion", default="prosody", choices=["prosody", "emotion2vec"],
                     help="emotion encoder (default prosody: offline, weaker than the paper's emotion2vec)")
    enc.add_argument("--linguistic-model", default=None, metavar="DIR|HUB_ID",
                     help="WavLM folder or hub id (default: the registered 'wavlm' asset)")
    enc.add_argument("--emotion-model", default=None, metavar="DIR|HUB_ID",
                     help="emotion2vec folder in FunASR format (default: the registered 'emotion2vec' asset)")
    enc.add_argument("--device", default=None, help="torch device for wavlm/emotion2vec (default: cuda if available)")
    enc.add_argument("--cache-dir", default=None, help="reuse/store features keyed by audio content and encoders")
    enc.add_argument("--no-progress", action="store_true", help="no progress bar")
    enc.set_defaults(func=_encode)

    info = sub.add_parser("info", help="summarise a features .npz (frames, dims, encoders) as JSON")
    info.add_argument("features", help="features .npz written by 'audio encode'")
    info.set_defaults(func=_info)

    lst = sub.add_parser("encoders", help="list encoders and the model folders found for them")
    lst.set_defaults(func=_encoders)

    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def _encode(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from . import extract_features

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None:
            bar = tqdm(total=total, desc="encoding audio", unit="step", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()

    try:
        feats = extract_features(
            args.audio, linguistic=args.linguistic, emotion=args.emotion, device=args.device,
            progress=progress, linguistic_model=args.linguistic_model, emotion_model=args.emotion_model,
            cache_dir=args.cache_dir,
        )
    finally:
        if bar is not None:
            bar.close()
    feats.save(args.out)
    print(json.dumps(_summary(feats, args.out)))
    return 0


def _summary(feats, path) -> dict:
    return {
        "path": str(path), "frames": feats.num_frames, "fps": feats.fps,
        "linguistic": {"encoder": feats.linguistic_encoder, "dim": feats.linguistic_dim},
        "emotion": {"encoder": feats.emotion_encoder, "dim": feats.emotion_dim},
        "envelope_samples": int(feats.envelope.size),
        "duration_s": feats.metadata.get("duration_s"),
    }


def _info(args: argparse.Namespace) -> int:
    from .features import AudioFeatures

    feats = AudioFeatures.load(args.features)
    out = _summary(feats, args.features)
    out["metadata"] = feats.metadata
    print(json.dumps(out, indent=2))
    return 0


def _encoders(args: argparse.Namespace) -> int:
    from ..assets import try_find_asset
    from .encoders import list_encoder_models

    rows = [
        ("ppg", "linguistic", "hama phoneme posteriors (offline default; pip install hama==1.7.0)"),
        ("mel", "linguistic", "built in (fallback where hama cannot load; weaker than wavlm)"),
        ("prosody", "emotion", "built in (offline default; weaker than emotion2vec)"),
    ]
    for kind, role in (("wavlm", "linguistic"), ("emotion2vec", "emotion")):
        folders = list_encoder_models(kind)
        default = try_find_asset(kind)
        if default is not None and default not in folders:
            folders.insert(0, default)
        where = ", ".join(str(f) for f in folders) if folders else "no model folder found (see `assets status`)"
        rows.append((kind, role, f"paper encoder: {where}"))
    for name, role, note in rows:
        print(f"{name:<12} {role:<11} {note}")
    return 0
