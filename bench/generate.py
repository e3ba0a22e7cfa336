"""Benchmark the flow-matching generator (issue #4).

Measures, with random weights (speed does not depend on training):

* frames/s of :func:`generate_sequence` for the ``paper`` and ``small`` presets at 8/16/32 ODE steps;
* the authors' design (audio encoders re-run inside every ODE step, REFERENCE-NOTES §4.1 [PERF])
  against ours (features once per clip, conditions once per window) on one 10 s window, with
  WavLM-base-size random encoders standing in for WavLM and emotion2vec (same architecture class
  and size; needs ``transformers``), and the ratio;
* peak resident memory of generating 10 s and 10 minutes (separate processes) and their ratio;
* with ``--dtype`` other than fp32, how much the motion changes: the bundled checkpoint on the shipped speech
  in fp32 and in that dtype, vertex and lip-gap differences in mm.

The authors' design is timed as their inference runs (fp32, REFERENCE-NOTES §4.1) whatever ``--dtype``; ours
runs in ``--dtype``.

Prints one JSON object with ``--json`` (headline: paper preset, 32 steps); a table otherwise.

    python bench/generate.py --json
    python bench/generate.py --json --device cuda --dtype bf16
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from x3dtalker_core import FPS, SAMPLES_PER_FRAME  # noqa: E402
from x3dtalker_core.audio.features import AudioFeatures  # noqa: E402
from x3dtalker_core.model import build_generator, generate_sequence, preset  # noqa: E402
from x3dtalker_core.model.config import GeneratorConfig  # noqa: E402
from x3dtalker_core.model.flow import normalize_amplitude  # noqa: E402
from x3dtalker_core.params import PARAM_DIM, FlameParams  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def random_features(seconds: float, config: GeneratorConfig, seed: int = 0) -> AudioFeatures:
    t = int(round(seconds * FPS))
    rng = np.random.default_rng(seed)
    m = config.model
    amp = np.abs(np.sin(np.arange(t) / 3.0))[:, None].astype(np.float32) + 0.05
    return AudioFeatures(rng.standard_normal((t, m.linguistic_dim), np.float32), amp,
                         rng.standard_normal((t, m.emotion_dim), np.float32),
                         np.repeat(amp[:, 0], SAMPLES_PER_FRAME), m.linguistic_encoder, m.emotion_encoder)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_generate(name: str, steps: int, seconds: float, device, dtype, repeats: int) -> dict:
    config = preset(name)
    gen = build_generator(config, device).to(device, dtype)
    feats = random_features(seconds, config)
    generate_sequence(gen, FlameParams.zeros(), feats, steps=1)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        generate_sequence(gen, FlameParams.zeros(), feats, steps=steps)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    frames = feats.num_frames
    return {"preset": name, "steps": steps, "frames": frames, "seconds": round(best, 4), "fps": round(frames / best, 2),
            "realtime_factor": round(frames / FPS / best, 3)}


def authors_vs_ours(device, dtype, probe_steps: int, steps: int = 32, authors_dtype=torch.float32) -> dict:
    """One 10 s window, paper preset: encoders inside every step (authors, as their inference runs:
    fp32, REFERENCE-NOTES §4.1) vs once (ours, in ``dtype``)."""
    from transformers import WavLMConfig, WavLMModel

    config = preset("paper")
    m = config.model
    torch.manual_seed(0)
    # WavLM-base(-plus) geometry (94 M parameters); a second one stands in for emotion2vec+ base
    # (a data2vec-style 768-d, 12-layer transformer on the same CNN front end).
    wavlm = WavLMModel(WavLMConfig()).to(device, authors_dtype).eval()
    emo = WavLMModel(WavLMConfig()).to(device, authors_dtype).eval()
    net = build_generator(GeneratorConfig(model=type(m)(**{**m.__dict__, "linguistic_dim": 768, "emotion_dim": 768}),
                                          window=config.window), device).to(device, authors_dtype).network
    frames = config.window
    audio = torch.randn(1, frames * SAMPLES_PER_FRAME, device=device, dtype=authors_dtype)
    rng = np.random.default_rng(0)
    if net.amplitude_channels == 1:  # one normalised value per frame
        amp = torch.from_numpy(normalize_amplitude(np.abs(rng.normal(size=(frames, 1))))).to(device)
    else:  # the authors' path: each frame's 640 raw envelope samples
        amp = torch.from_numpy(np.abs(rng.normal(size=(frames, SAMPLES_PER_FRAME))).astype(np.float32)).to(device)
    ref = torch.zeros(1, 1, PARAM_DIM, device=device)

    def encode(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        def to_frames(h: torch.Tensor) -> torch.Tensor:  # 50 Hz -> 25 fps, linear
            return torch.nn.functional.interpolate(h.transpose(1, 2).float(), size=frames, mode="linear",
                                                   align_corners=True).transpose(1, 2)
        return to_frames(wavlm(x).last_hidden_state), to_frames(emo(x).last_hidden_state)

    def step_authors(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        # everything from the audio on, at every step (their inference.py calls model.forward)
        ling, em = encode(audio)
        return net(x, k, ref, ling, amp[None], em)

    with torch.no_grad():
        x = torch.randn(1, frames, PARAM_DIM, device=device)
        k = torch.zeros(1, device=device)
        step_authors(x, k)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        for _ in range(probe_steps):
            x = x + step_authors(x, k).float() / steps
        sync(device)
        authors_step = (time.perf_counter() - t0) / probe_steps

        # Ours: the same network and encoders in `dtype`, features once per clip, conditions once per window.
        wavlm.to(dtype), emo.to(dtype), net.to(dtype)
        audio = audio.to(dtype)
        sync(device)
        t0 = time.perf_counter()
        ling, em = encode(audio)
        cond = net.encode_conditions(ref, ling, amp[None], em)
        times = [net.encode_time(torch.full((1,), i * 512 / steps, device=device)) for i in range(steps)]
        sync(device)
        encode_once = time.perf_counter() - t0
        net.velocity(x, times[0], cond)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        for i in range(probe_steps):
            x = x + net.velocity(x, times[i], cond).float() / steps
        sync(device)
        ours_step = (time.perf_counter() - t0) / probe_steps
    authors_total = steps * authors_step
    ours_total = encode_once + steps * ours_step
    return {"steps": steps, "frames": frames, "probe_steps": probe_steps,
            "authors_dtype": str(authors_dtype).replace("torch.", ""), "ours_dtype": str(dtype).replace("torch.", ""),
            "authors_seconds": round(authors_total, 3), "ours_seconds": round(ours_total, 3),
            "authors_step_seconds": round(authors_step, 4), "ours_step_seconds": round(ours_step, 4),
            "encode_once_seconds": round(encode_once, 4), "ratio": round(authors_total / ours_total, 2)}


def precision_check(dtype, device, steps: int = 32) -> dict:
    """Does ``dtype`` change the motion? The bundled checkpoint on the shipped speech, same seed, in float32
    and in ``dtype``: vertex and inner-lip-gap differences on the FLAME mesh, mm (speed needs no training,
    this does; no trained paper-size checkpoint exists, so the bundled one stands in)."""
    from x3dtalker_core.audio import extract_features, load_audio
    from x3dtalker_core.eval.lipsync import inner_lip_gap
    from x3dtalker_core.flame import load_flame_model, vertices_for_sequence
    from x3dtalker_core.model import load_generator

    speech = Path(__file__).resolve().parents[1] / "example_workflows" / "media" / "x3dtalker_speech.wav"
    gen = load_generator(None, device)
    feats = extract_features(load_audio(str(speech)), linguistic=gen.config.model.linguistic_encoder,
                             emotion=gen.config.model.emotion_encoder)
    model = load_flame_model(landmarks=False)
    out = {}
    for name, dt in (("float32", torch.float32), ("test", dtype)):
        gen.to(device, dt)
        seq = generate_sequence(gen, FlameParams.zeros(), feats, steps=steps, seed=0)
        out[name] = vertices_for_sequence(model, seq.params)
    err = np.linalg.norm(out["test"] - out["float32"], axis=-1) * 1000.0
    gap = np.abs(inner_lip_gap(out["test"]) - inner_lip_gap(out["float32"]))  # already mm
    return {"dtype": str(dtype).replace("torch.", ""), "checkpoint": gen.name, "frames": int(err.shape[0]),
            "vertex_mean_mm": round(float(err.mean()), 4), "vertex_max_mm": round(float(err.max()), 4),
            "lip_gap_mean_mm": round(float(gap.mean()), 4), "lip_gap_max_mm": round(float(gap.max()), 4)}


def peak_rss_kb() -> int:
    """This process's peak resident set (kB): VmHWM on Linux (ru_maxrss survives exec, so a child
    started by a big parent would report the parent's peak), ru_maxrss elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_probe(seconds: float, name: str, steps: int) -> dict:
    """Run in a child process: peak RSS after loading vs after generating ``seconds`` of audio."""
    config = preset(name)
    gen = build_generator(config, "cpu")
    feats = random_features(seconds, config)
    base = peak_rss_kb()
    t0 = time.perf_counter()
    seq = generate_sequence(gen, FlameParams.zeros(), feats, steps=steps)
    dt = time.perf_counter() - t0
    peak = peak_rss_kb()
    return {"audio_seconds": seconds, "frames": seq.num_frames, "peak_rss_mb": round(peak / 1024, 1),
            "before_generate_mb": round(base / 1024, 1), "output_mb": round(seq.params.nbytes / 2**20, 2),
            "generate_seconds": round(dt, 2)}


def memory_compare(name: str, steps: int, long_seconds: float) -> dict:
    out = {}
    for label, secs in (("short", 10.0), ("long", long_seconds)):
        proc = subprocess.run([sys.executable, __file__, "--memory-probe", str(secs), "--presets", name,
                               "--probe-steps", str(steps)], capture_output=True, text=True, check=True)
        out[label] = json.loads(proc.stdout)
    out["peak_ratio"] = round(out["long"]["peak_rss_mb"] / out["short"]["peak_rss_mb"], 3)
    out["preset"], out["steps"] = name, steps
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=list(DTYPES), default=None, help="default: bf16 on CUDA, fp32 on CPU")
    p.add_argument("--presets", default="paper,small")
    p.add_argument("--steps", default="8,16,32")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length for the frames/s runs")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--probe-steps", type=int, default=2, help="ODE steps timed for the authors-vs-ours comparison")
    p.add_argument("--long-seconds", type=float, default=600.0, help="long clip for the memory comparison")
    p.add_argument("--skip-authors", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--memory-probe", type=float, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_probe is not None:
        print(json.dumps(memory_probe(args.memory_probe, args.presets.split(",")[0], args.probe_steps)))
        return
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype or ("bf16" if device.type == "cuda" else "fp32")]
    runs = [time_generate(name, int(s), args.seconds, device, dtype, args.repeats)
            for name in args.presets.split(",") for s in args.steps.split(",")]
    headline = next((r for r in runs if r["preset"] == "paper" and r["steps"] == 32), runs[-1])
    result = {"stage": "generate", "device": f"{device.type}:{torch.get_num_threads()}threads" if device.type == "cpu"
              else torch.cuda.get_device_name(device), "dtype": str(dtype).replace("torch.", ""),
              "frames": headline["frames"], "seconds": headline["seconds"], "fps": headline["fps"],
              "headline": f"{headline['preset']} preset, {headline['steps']} steps", "runs": runs}
    if not args.skip_authors:
        try:
            result["authors_vs_ours"] = authors_vs_ours(device, dtype, args.probe_steps)
        except ImportError as exc:
            result["authors_vs_ours"] = {"skipped": f"transformers not installed ({exc})"}
    if dtype != torch.float32:
        try:
            result["precision_check"] = precision_check(dtype, device)
        except Exception as exc:  # no FLAME model or ppg encoder here: say so, the timings still stand
            result["precision_check"] = {"skipped": f"{type(exc).__name__}: {exc}"}
    if not args.skip_memory and device.type == "cpu":
        result["memory"] = memory_compare("small", 8, args.long_seconds)
    if args.json:
        print(json.dumps(result))
    else:
        for r in runs:
            print(f"{r['preset']:6s} {r['steps']:3d} steps  {r['frames']} frames  {r['seconds']:.3f} s  {r['fps']:.1f} fps")
        for key in ("authors_vs_ours", "memory"):
            if key in result:
                print(key, json.dumps(result[key]))


if __name__ == "__main__":
    main()
