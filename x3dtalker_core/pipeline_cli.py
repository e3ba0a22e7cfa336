"""``generate``: the main job from the command line (SPEC §8).

    python -m x3dtalker_core generate --image me.jpg --audio speech.wav --out out/
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from .render.cli import add_render_arguments

    p = sub.add_parser(
        "generate",
        help="photo (or reference params) + speech -> FLAME animation, preview/depth videos, GLB, params",
        description="Writes OUT/params.npz (T x 284 + cam + fps + metadata), OUT/preview.mp4 (shaded mesh, audio "
        "muxed), OUT/depth.mp4 (depth for Wan 2.2 Fun-Control), OUT/mesh.glb (animated) and OUT/report.json "
        "(timings per stage, frames, fps achieved, assets used).",
    )
    ref = p.add_mutually_exclusive_group(required=True)
    ref.add_argument("--image", type=Path, help="portrait photo of the face to animate")
    ref.add_argument("--params", type=Path, help="reference parameters instead of a photo (.npz or dataset folder)")
    p.add_argument("--audio", type=Path, required=True, help="speech or song (wav, flac, mp3, m4a, ...)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--checkpoint", help="generator checkpoint (.safetensors path or name in models/3dxtalker); "
                   "default: the installed one, else the bundled bootstrap")
    p.add_argument("--steps", type=int, default=32, help="ODE steps (paper: 32)")
    p.add_argument("--solver", choices=["euler", "heun"], default="euler", help="ODE solver")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed -> same motion)")
    p.add_argument("--smoothing", default="7,2", help="Savitzky-Golay 'window,order', or 'none'")
    p.add_argument("--backend", choices=["landmarks", "emoca"], default="landmarks",
                   help="photo -> FLAME: offline landmark fit (default) or EMOCA v2 (paper)")
    p.add_argument("--face-index", type=int, help="which face when the photo has several (0 = largest)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="generator precision: bfloat16 halves memory and, for paper-size checkpoints, about halves "
                   "the time on CPUs with bf16 instructions (bench/generate.py --dtype bf16 measures both); "
                   "float16 is for GPUs (on the CPU it runs in float32)")
    emo = p.add_argument_group("emotion")
    emo.add_argument("--emotion", help="angry, contempt, disgust, fear, happy, sad, surprise or neutral")
    emo.add_argument("--intensity", default="moderate",
                     help="0..5 or subtle/light/moderate/strong/intense/extreme (default moderate)")
    emo.add_argument("--emotion-keys", help="keyframes 'time:emotion:intensity,...', e.g. '0:neutral:0,2.5:happy:1.5'")
    emo.add_argument("--templates", help="emotion templates file (.npz/.json) overriding the FACS-derived ones")
    pose = p.add_argument_group("head pose")
    pose.add_argument("--pose-style", help="a preset (calm, gentle_sway, rhythmic_nods, energetic, stage_presenting, "
                      "...) or a style in words for the LLM (needs --llm-url/--llm-model or --llm-local)")
    pose.add_argument("--pose-mode", choices=["superimpose", "center"], default="superimpose",
                      help="add the trajectory to the model's head motion (default) or make it its centre")
    pose.add_argument("--pose-strength", type=float, default=1.0, help="scale of preset curves")
    pose.add_argument("--llm-url", help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (Ollama)")
    pose.add_argument("--llm-model", help="model name at that endpoint")
    pose.add_argument("--llm-key-env", default="OPENAI_API_KEY", help="environment variable with the API key")
    pose.add_argument("--llm-local", help="local transformers chat-model folder instead of an endpoint")
    rend = p.add_argument_group("rendering")
    add_render_arguments(rend)
    rend.add_argument("--no-render", action="store_true", help="write params.npz and report.json only")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def _smoothing(text: str) -> tuple[int, int] | None:
    from .errors import X3DError
    from .pipeline import smoothing_option

    if text.strip().lower() in ("none", "off", "0"):
        return None
    try:
        window, order = (int(v) for v in text.split(","))
    except ValueError:
        raise X3DError(f"--smoothing must be 'window,order' (e.g. 7,2) or 'none', got {text!r}") from None
    return smoothing_option(window, order)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .pipeline import EmotionOptions, GenerateOptions, PoseOptions, run_generate
    from .render.cli import settings_from_args

    options = GenerateOptions(
        checkpoint=args.checkpoint, steps=args.steps, seed=args.seed, solver=args.solver,
        smoothing=_smoothing(args.smoothing), backend=args.backend, face_index=args.face_index, device=args.device,
        dtype=args.dtype,
        emotion=EmotionOptions(args.emotion, args.intensity, args.emotion_keys, args.templates),
        pose=PoseOptions(args.pose_style, args.pose_mode, args.pose_strength, args.llm_url, args.llm_model,
                         args.llm_key_env, args.llm_local),
        render=None if args.no_render else settings_from_args(args),
    )
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if args.no_progress:
            return
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="step" if stage == "generate" else "frame")
        bar.total = total
        bar.update(done - bar.n)

    try:
        report = run_generate(args.image or args.params, args.audio, args.out, options, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    for path in report["files"]:
        print(path)
    used = report["assets"]
    dev = " (development head, not FLAME's PCA bases)" if used.get("flame_is_development_head") else ""
    print(f"checkpoint: {used.get('checkpoint_path') or used['checkpoint']}; FLAME model: {used['flame_model']}{dev}")
    t = report["timings"]
    print(f"{report['frames']} frames ({report['duration_s']:.1f} s) in {t['total_s']:.1f} s "
          f"(real-time factor {report['real_time_factor']:.2f}); generator {report['generate_fps']:.0f} frames/s")
    return 0
