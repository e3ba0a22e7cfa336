"""Benchmark the whole main job: shipped portrait + shipped speech repeated to each length, every output written.

    python bench/main_job.py --json [--seconds 10 60] [--size 512] [--steps 32] [--checkpoint CKPT] [--device cpu]

Runs the README's main job, ``python -m x3dtalker_core generate --image PORTRAIT --audio SPEECH --out DIR``,
once per length, each in a fresh process (params.npz, livelink.csv, preview.mp4, depth.mp4, mesh.glb,
report.json), on ``example_workflows/media/x3dtalker_portrait.png`` and ``x3dtalker_speech.wav`` repeated with
0.4 s pauses to the length. Stage timings come from the job's own ``report.json`` (keys and meanings:
``x3dtalker_core.pipeline.TIMINGS``); the peak resident memory is the job process' ``ru_maxrss`` (from
``wait4``; this parent stays small, so its own peak, which ``ru_maxrss`` carries across ``exec``, is far below).
Prints one JSON object: per length the stage timings, ``total_s``, the real-time factor (``total_s`` over the
audio length; below 1 = faster than real time), the peak RSS and the process' wall time (interpreter start and
imports included); headline ``frames``/``seconds``/``fps`` are those of the longest length.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _media import PORTRAIT, ROOT, long_speech  # noqa: E402


def run_job(audio: Path, out: Path, extra: list[str]) -> dict:
    """One main job in its own process: report.json's timings, the real-time factor, peak RSS, wall time."""
    cmd = [sys.executable, "-m", "x3dtalker_core", "generate", "--image", str(PORTRAIT), "--audio", str(audio),
           "--out", str(out), "--no-progress", *extra]
    log = out.parent / f"{out.name}.log"
    started = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"main job failed (exit {proc.returncode}):\n{log.read_text()[-4000:]}")
    report = json.loads((out / "report.json").read_text())
    return {
        "audio_seconds": round(report["duration_s"], 3),
        "frames": report["frames"],
        "timings": report["timings"],
        "total_s": report["timings"]["total_s"],
        "real_time_factor": round(report["real_time_factor"], 3),
        "end_to_end_fps": round(report["end_to_end_fps"], 2),
        "generate_fps": round(report["generate_fps"], 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kB
        "process_s": round(wall, 2),
        "device": report.get("device"),
        "checkpoint": report["assets"]["checkpoint"],
        "flame_model": report["assets"]["flame_model"],
        "files": sorted(Path(f).name for f in report["files"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0], help="speech lengths to run")
    parser.add_argument("--size", type=int, default=512, help="render size (the main job's default 512)")
    parser.add_argument("--steps", type=int, default=32, help="ODE steps (the main job's default 32)")
    parser.add_argument("--checkpoint", help="generator checkpoint (default: the main job's own choice)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: the main job's own choice)")
    parser.add_argument("--keep", type=Path, help="keep every job's outputs under this folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    extra = ["--size", str(args.size), "--steps", str(args.steps)]
    extra += ["--checkpoint", args.checkpoint] if args.checkpoint else []
    extra += ["--device", args.device] if args.device else []
    root = args.keep or Path(tempfile.mkdtemp(prefix="x3d_main_job_"))
    root.mkdir(parents=True, exist_ok=True)
    runs = {}
    try:
        for seconds in args.seconds:
            name = f"{seconds:g}s"
            audio = long_speech(root / f"speech_{name}.wav", seconds)
            runs[name] = run_job(audio, root / f"out_{name}", extra)
            print(f"{name}: total {runs[name]['total_s']:.1f} s, real-time factor {runs[name]['real_time_factor']}",
                  file=sys.stderr, flush=True)  # partial results survive a stop
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    longest = runs[max(runs, key=lambda k: runs[k]["audio_seconds"])]
    result = {
        "stage": "main_job",
        "device": longest["device"],
        "frames": longest["frames"],
        "seconds": longest["total_s"],
        "fps": longest["end_to_end_fps"],
        "real_time_factor": longest["real_time_factor"],
        "size": args.size,
        "steps": args.steps,
        "cpu_count": os.cpu_count(),
        "runs": runs,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
