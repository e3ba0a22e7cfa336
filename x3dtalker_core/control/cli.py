"""``python -m x3dtalker_core control ...``: emotion templates and head-pose trajectories."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "control", help="emotion templates and head-pose trajectories (plug-in control)",
        description="Plug-in semantic control (paper §3.3): emotion templates/keyframes and head-pose curves.",
    )
    sub = parser.add_subparsers(dest="control_command", metavar="<subcommand>")
    parser.set_defaults(func=lambda args: (parser.print_help(), 1)[1])

    p = sub.add_parser("presets", help="list the head-pose presets")
    p.set_defaults(func=_presets)

    p = sub.add_parser("pose", help="make a head-pose trajectory from a preset or a language model")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="preset name (see 'control presets')")
    src.add_argument("--style", help="presentation style text for the language model")
    p.add_argument("--llm-url", help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1")
    p.add_argument("--llm-model", help="model name served by --llm-url")
    p.add_argument("--llm-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--llm-local", help="local transformers model folder instead of --llm-url")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the LLM (default 60)")
    p.add_argument("--on-error", choices=("fallback", "fail"), default="fallback",
                   help="unusable LLM reply: fall back to --fallback-preset (default) or fail")
    p.add_argument("--fallback-preset", default="calm")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the LLM reply cache")
    p.add_argument("--audio", help="driving audio (wav/flac); gives the length and the audio cues")
    p.add_argument("--duration", type=float, help="seconds, when there is no --audio")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strength", type=float, default=1.0, help="preset strength (limits still hold)")
    p.add_argument("--mode", choices=("superimpose", "center"), default="superimpose")
    p.add_argument("--out", required=True, help="output .npz (angles (T,3) radians, fps, mode, metadata)")
    p.add_argument("--plot", help="also write a PNG plot of the three curves")
    p.set_defaults(func=_pose)

    p = sub.add_parser("au-templates", help="derive emotion templates for a FLAME model from FACS AU recipes")
    p.add_argument("--out", required=True, help="output .npz or .json")
    p.add_argument("--flame", help="FLAME model file (default: the flame_model asset)")
    p.add_argument("--recipes", help="FACS recipe JSON (default: the packaged data/facs_au.json)")
    p.add_argument("--no-cache", action="store_true")
    p.set_defaults(func=_au_templates)

    p = sub.add_parser("derive-templates", help="paper Table 7: mean expression per emotion of a labelled dataset")
    p.add_argument("--data", required=True, help="dataset folder of sequence folders (e.g. V2-M003-angry-00001)")
    p.add_argument("--out", required=True, help="output .npz or .json")
    p.add_argument("--no-neutral", action="store_true", help="skip the neutral template")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_derive_templates)

    p = sub.add_parser("emotion", help="apply an emotion (or keyframes) to a parameter file's expressions")
    p.add_argument("--params", required=True, help="parameter .npz (FlameSequence)")
    p.add_argument("--out", required=True, help="output parameter .npz")
    grp = p.add_mutually_exclusive_group(required=True)
    grp.add_argument("--emotion", help="emotion name")
    grp.add_argument("--keys", help="keyframes, e.g. '0:neutral:0, 2.5:happy:1.5, 5:sad:strong'")
    p.add_argument("--intensity", default="1.0",
                   help="number or level (subtle, light, moderate, strong, intense, extreme)")
    p.add_argument("--templates", help="template file (.npz/.json); default: FACS templates of the FLAME model")
    p.add_argument("--blend", type=float, default=0.75, help="blend weight w (default 0.75)")
    p.add_argument("--transition", type=float, default=0.8, help="keyframe transition seconds (>= 0.2)")
    p.add_argument("--reference-frame", type=int, default=0, help="frame whose expression is the reference")
    p.set_defaults(func=_emotion)

    p = sub.add_parser("similarity", help="paper Table 3 analogue: cosine(template, produced expression)")
    p.add_argument("--templates", help="template file (default: FACS templates of the FLAME model)")
    p.add_argument("--params", help="parameter .npz whose motion (deltas to frame 0) is kept under each emotion")
    p.add_argument("--intensity", default="1.0")
    p.set_defaults(func=_similarity)


def _print(obj) -> None:
    print(json.dumps(obj, indent=1))


def _presets(args: argparse.Namespace) -> int:
    from .presets import PRESETS, preset_description

    for name in PRESETS:
        print(f"{name:18s} {preset_description(name)}")
    return 0


def _cues(args: argparse.Namespace):
    from .. import FPS, SAMPLE_RATE
    from ..errors import X3DError
    from .cues import AudioCues

    if args.audio:
        import soundfile as sf

        try:
            wave, sr = sf.read(args.audio, dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as exc:
            raise X3DError(f"cannot read audio {args.audio}: {exc}") from None
        wave = wave.mean(axis=1)
        if sr != SAMPLE_RATE:
            import soxr

            wave = soxr.resample(wave, sr, SAMPLE_RATE)
        return AudioCues.from_waveform(wave, SAMPLE_RATE)
    if args.duration is None or not args.duration > 0:
        raise X3DError("give --audio WAV or a positive --duration in seconds")
    return AudioCues.silent(max(1, int(round(args.duration * FPS))))


def _pose(args: argparse.Namespace) -> int:
    from ..errors import X3DError
    from .llm import OpenAIChatClient, TransformersChatBackend, pose_from_llm
    from .plot import plot_pose_curves, write_png
    from .presets import preset_trajectory

    cues = _cues(args)
    if args.preset:
        traj = preset_trajectory(args.preset, cues, seed=args.seed, strength=args.strength, mode=args.mode)
    else:
        if args.llm_local:
            backend = TransformersChatBackend(args.llm_local)
        elif args.llm_url and args.llm_model:
            backend = OpenAIChatClient(
                args.llm_url, args.llm_model, api_key_env=args.llm_key_env, timeout_s=args.timeout
            )
        else:
            raise X3DError("--style needs --llm-url and --llm-model, or --llm-local DIR")
        traj = pose_from_llm(
            args.style, cues, backend, seed=args.seed, on_error=args.on_error, fallback_preset=args.fallback_preset,
            mode=args.mode, cache_dir=None if args.no_cache else "default",
        )
    traj.save(args.out)
    if args.plot:
        write_png(args.plot, plot_pose_curves(traj))
    deg = traj.degrees
    _print({
        "out": str(args.out), "frames": traj.num_frames, "mode": traj.mode,
        "max_abs_deg": dict(zip(("pitch", "yaw", "roll"), [round(float(x), 2) for x in abs(deg).max(0)])),
        **{k: traj.metadata[k] for k in ("source", "preset", "seed", "warning", "expressions") if k in traj.metadata},
    })
    return 0


def _au_templates(args: argparse.Namespace) -> int:
    from ..assets import try_find_asset
    from ..flame import load_flame_model, load_masks
    from .facs import derive_au_templates

    model = load_flame_model(args.flame, n_exp=50)
    masks = load_masks() if try_find_asset("flame_masks") else None
    templates = derive_au_templates(model, recipes_path=args.recipes, masks=masks, cache=not args.no_cache)
    templates.save(args.out)
    _print({"out": str(args.out), "emotions": list(templates.vectors), "fit": templates.metadata.get("fit")})
    return 0


def _derive_templates(args: argparse.Namespace) -> int:
    from .mead import derive_mean_templates

    templates = derive_mean_templates(args.data, include_neutral=not args.no_neutral, progress=not args.no_progress)
    templates.save(args.out)
    meta = templates.metadata
    _print({"out": str(args.out), "frames": meta["frames"], "sequences": meta["sequences"],
            "unlabelled_sequences": meta["unlabelled_sequences"]})
    return 0


def _templates(path: str | None):
    from .facs import resolve_templates

    return resolve_templates(Path(path) if path else None)


def _emotion(args: argparse.Namespace) -> int:
    import numpy as np

    from ..params import EXP, FlameSequence
    from .emotion import EmotionControl, apply_emotion

    seq = FlameSequence.load(args.params)
    templates = _templates(args.templates)
    kwargs = {"blend_weight": args.blend, "transition_s": args.transition}
    if args.keys:
        control = EmotionControl.from_text(args.keys, templates, **kwargs)
    else:
        control = EmotionControl.constant(args.emotion, args.intensity, templates, **kwargs)
    ref = seq.frame(args.reference_frame).exp
    # Identity-anchored form: keep each frame's motion relative to the reference, move the reference.
    new_ref = apply_emotion(ref, control, seq.num_frames, seq.fps)
    params = seq.params.copy()
    params[:, EXP] = new_ref + (seq.exp - ref[None])
    out = FlameSequence(params, seq.fps, seq.cam, {**seq.metadata, "emotion_control": control.to_dict()})
    out.save(args.out)
    _print({"out": str(args.out), "frames": out.num_frames,
            "mean_abs_exp_change": round(float(np.abs(params[:, EXP] - seq.exp).mean()), 4)})
    return 0


def _similarity(args: argparse.Namespace) -> int:
    import numpy as np

    from ..params import FlameSequence
    from .emotion import EMOTIONS, EmotionControl, apply_emotion, template_similarity

    templates = _templates(args.templates)
    if args.params:
        seq = FlameSequence.load(args.params)
        ref, motion, fps = seq.exp[0], seq.exp - seq.exp[0], seq.fps
    else:
        ref, motion, fps = np.zeros(50, np.float32), np.zeros((25, 50), np.float32), 25.0
    produced = {}
    for name in EMOTIONS:
        if name not in templates.vectors:
            continue
        control = EmotionControl.constant(name, args.intensity, templates)
        produced[name] = apply_emotion(ref, control, motion.shape[0], fps) + motion
    sims = template_similarity(templates, produced)
    _print({"cosine_similarity": {k: round(v, 4) for k, v in sims.items()},
            "mean": round(float(np.mean(list(sims.values()))), 4)})
    return 0
