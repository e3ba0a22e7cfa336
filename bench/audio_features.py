"""Audio-rich feature extraction: seconds per encoder on a 60 s clip, and peak memory 10 min vs 10 s.

    python bench/audio_features.py --json [--seconds 60] [--device cpu] [--no-memory]
                          [--wavlm DIR] [--emotion2vec DIR]

Encoders timed: amplitude (chunked Hilbert), mel, prosody, and WavLM / emotion2vec — the real
models when their folders are found (``--wavlm``/``--emotion2vec`` or the registered assets),
otherwise tiny random models of the same format (marked ``"tiny": true``: their times say
nothing about the real encoders except the windowing overhead). Each model is timed after one
warm-up window. The clip is synthetic voiced speech-like sound (harmonics with a moving pitch,
syllable-rate amplitude modulation, noise bursts).

Memory: peak traced allocation (numpy via tracemalloc; torch CPU tensors are not traced) of
``extract_features(mel, prosody)`` in a fresh process for a 10 s and a 10 min clip, with and
without the unavoidable outputs (sample-level envelope, features), which grow with the clip.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def speech_like(seconds: float, seed: int = 0, sr: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.3 * t) + 15 * np.sin(2 * np.pi * 2.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = 0.5 * (1 + np.sin(2 * np.pi * 4.0 * t)) * (np.sin(2 * np.pi * 0.25 * t) > -0.6)
    noise = rng.normal(size=t.size) * (np.sin(2 * np.pi * 1.3 * t) > 0.8)
    return (0.08 * voiced * syllables + 0.02 * noise).astype(np.float32)


def _time(fn, repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def _memory_child(seconds: float) -> None:
    import tracemalloc

    from x3dtalker_core.audio import extract_features

    extract_features(speech_like(1.0))  # imports and FFT plans are not part of the clip's cost
    x = speech_like(seconds)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    feats = extract_features(x)
    peak = tracemalloc.get_traced_memory()[1] - base
    # the input was allocated before tracing started; count only what extraction allocates
    io_bytes = feats.envelope.nbytes + feats.linguistic.nbytes + feats.emotion.nbytes + feats.amplitude.nbytes
    print(json.dumps({"peak_mb": peak / 2**20, "io_mb": io_bytes / 2**20, "working_mb": (peak - io_bytes) / 2**20}))


def memory_profile() -> dict:
    out = {}
    for label, seconds in (("10s", 10.0), ("10min", 600.0)):
        res = subprocess.run([sys.executable, __file__, "--memory-child", str(seconds)], capture_output=True,
                             text=True, check=True)
        out[label] = {k: round(v, 1) for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items()}
    out["working_ratio_10min_vs_10s"] = round(out["10min"]["working_mb"] / max(out["10s"]["working_mb"], 1e-9), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--device", default=None)
    ap.add_argument("--wavlm", default=None, help="WavLM folder (default: registered asset, else a tiny model)")
    ap.add_argument("--emotion2vec", default=None, help="emotion2vec folder (default: asset, else a tiny model)")
    ap.add_argument("--no-memory", action="store_true", help="skip the 10 s / 10 min memory comparison")
    ap.add_argument("--memory-child", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child is not None:
        _memory_child(args.memory_child)
        return

    import torch

    from x3dtalker_core.assets import try_find_asset
    from x3dtalker_core.audio import amplitude_envelope, frame_amplitude
    from x3dtalker_core.audio.encoders import Emotion2vecEncoder, MelEncoder, ProsodyEncoder, WavLMEncoder
    from x3dtalker_core.audio.encoders.neural import resolve_device

    device = resolve_device(args.device)
    x = speech_like(args.seconds)
    frames = int(round(args.seconds * 25))
    per: dict[str, dict] = {}
    mel, pros = MelEncoder(), ProsodyEncoder()
    amplitude_envelope(x[:16000]), mel.encode(x[:16000]), pros.encode(x[:16000])  # warm-up (imports, caches)
    per["amplitude"] = {"seconds": _time(lambda: frame_amplitude(amplitude_envelope(x)))}
    per["mel"] = {"seconds": _time(lambda: mel.encode(x))}
    per["prosody"] = {"seconds": _time(lambda: pros.encode(x))}

    with tempfile.TemporaryDirectory() as tmp:
        wavlm_dir = args.wavlm or try_find_asset("wavlm")
        e2v_dir = args.emotion2vec or try_find_asset("emotion2vec")
        tiny = {"wavlm": wavlm_dir is None, "emotion2vec": e2v_dir is None}
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        import tiny_models  # test-only stand-ins, kept under tests/

        if wavlm_dir is None:
            wavlm_dir = tiny_models.save_tiny_wavlm(Path(tmp) / "wavlm")
        models = {"wavlm": lambda: WavLMEncoder(wavlm_dir, device=device)}
        if importlib.util.find_spec("funasr") is not None:
            if e2v_dir is None:
                e2v_dir = tiny_models.save_tiny_emotion2vec(Path(tmp) / "e2v")
            models["emotion2vec"] = lambda: Emotion2vecEncoder(e2v_dir, device=device)
        else:
            per["emotion2vec"] = {"skipped": "funasr not installed"}
        for name, build in models.items():
            load_s = time.perf_counter()
            enc = build()
            load_s = time.perf_counter() - load_s
            enc.encode(x[: 16000 * 2])  # warm-up
            sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
            sync()
            secs = _time(lambda: enc.encode(x))
            per[name] = {"seconds": secs, "load_seconds": round(load_s, 3), "tiny": tiny[name], "dim": enc.dim,
                         "batch_size": enc.batch_size}
    for v in per.values():
        if "seconds" in v:
            v["seconds"] = round(v["seconds"], 4)
            v["fps"] = round(frames / v["seconds"], 1)
    offline = per["amplitude"]["seconds"] + per["mel"]["seconds"] + per["prosody"]["seconds"]
    result = {
        "stage": "audio_features", "device": str(device), "frames": frames, "seconds": round(offline, 4),
        "fps": round(frames / offline, 1), "seconds_measures": "amplitude + mel + prosody (offline defaults)",
        "clip_seconds": args.seconds, "threads": torch.get_num_threads(), "encoders": per,
    }
    if not args.no_memory:
        result["memory"] = memory_profile()
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
