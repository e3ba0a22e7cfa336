"""Server memory of the photo + speech template on a long clip in a real ComfyUI (issue: long clips, flat memory).

    COMFYUI_DIR=... COMFYUI_PYTHON=... python bench/comfyui_memory.py --json [--seconds 60 600]

Starts ComfyUI with the pack (``tests/comfyui/comfy_server.py``), runs the shipped
``workflows/api/x3dtalker_photo_speech_preview.json`` once on a short clip (so libraries and models are loaded),
then once per requested length on the shipped portrait and the shipped speech repeated to that length, and reads
the server process' resident memory (``VmRSS``) before each run and its peak (``VmHWM``, reset before the run)
during it. Prints one JSON object: per length, the baseline, the peak and their difference in GB, and wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "comfyui"))
sys.path.insert(0, str(ROOT / "bench"))

from _media import PORTRAIT, long_speech  # noqa: E402
from comfy_server import comfy_server  # noqa: E402

from x3dtalker_core.batch import ComfyClient  # noqa: E402


def run_once(server, client: ComfyClient, audio_name: str, timeout_s: float) -> dict:
    graph = json.loads((ROOT / "workflows" / "api" / "x3dtalker_photo_speech_preview.json").read_text())
    graph["2"]["inputs"]["audio"] = audio_name
    before = server.memory_kb()["VmRSS"]
    server.reset_peak_memory()
    started = time.perf_counter()
    client.wait(client.queue(graph), timeout_s=timeout_s)
    seconds = time.perf_counter() - started
    peak = server.memory_kb()["VmHWM"]
    return {"baseline_gb": round(before / 2**20, 3), "peak_gb": round(peak / 2**20, 3),
            "growth_gb": round((peak - before) / 2**20, 3), "seconds": round(seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, nargs="+", default=[60.0], help="clip lengths to run")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for one run")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="x3d_mem_"))
    media = root / "media"
    media.mkdir()
    inputs = [PORTRAIT, long_speech(media / "warmup.wav", 2.0)]
    inputs += [long_speech(media / f"speech_{int(s)}s.wav", s) for s in args.seconds]
    with comfy_server(root / "comfy", inputs) as server:
        client = ComfyClient(server.url)
        warm = run_once(server, client, "warmup.wav", args.timeout)
        runs = {}
        for s in args.seconds:
            runs[f"{s:g}s"] = run_once(server, client, f"speech_{int(s)}s.wav", args.timeout)
            print(f"{s:g} s: {runs[f'{s:g}s']}", file=sys.stderr, flush=True)   # partial results survive a stop
    result = {"stage": "comfyui_memory", "device": "cpu", "workflow": "x3dtalker_photo_speech_preview",
              "warmup_2s": warm, "runs": runs}
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
