"""FLAME forward throughput: frames/s decoding (B, 284) parameters to vertices.

    python bench/flame_forward.py --json [--batch 250] [--repeats 10] [--device cpu] [--model PATH]

Uses the resolved FLAME model ($X3DTALKER_MODELS or the model folders) or a random FLAME-format
model of the real size when none is installed (the cost does not depend on the basis values).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from x3dtalker_core.assets import try_find_asset  # noqa: E402
from x3dtalker_core.flame import FlameModel, flame_data_from_arrays, load_flame_model  # noqa: E402


def random_flame(num_vertices: int = 5023, num_faces: int = 9976, seed: int = 0) -> FlameModel:
    rng = np.random.default_rng(seed)
    w = rng.random((num_vertices, 5))
    arrays = {
        "v_template": rng.normal(size=(num_vertices, 3)) * 0.1,
        "f": rng.integers(0, num_vertices, size=(num_faces, 3)),
        "shapedirs": rng.normal(size=(num_vertices, 3, 400)) * 1e-3,
        "posedirs": rng.normal(size=(num_vertices, 3, 36)) * 1e-3,
        "J_regressor": np.full((5, num_vertices), 1.0 / num_vertices),
        "weights": w / w.sum(1, keepdims=True),
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]]),
    }
    return FlameModel(flame_data_from_arrays(arrays, "random"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--model", help="FLAME model file (default: resolved asset, else a random model)")
    args = ap.parse_args()

    path = args.model or try_find_asset("flame_model")
    model = load_flame_model(path, landmarks=False) if path else random_flame()
    model = model.to(args.device)
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(args.batch, 284, generator=gen) * 0.3
    shape, exp, pose = (params[:, :100].to(args.device), params[:, 100:150].to(args.device),
                        (params[:, 150:156] * 0.3).to(args.device))
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    with torch.inference_mode():
        model(shape, exp, pose)  # warm-up
        sync()
        start = time.perf_counter()
        for _ in range(args.repeats):
            model(shape, exp, pose)
        sync()
        seconds = time.perf_counter() - start
    frames = args.batch * args.repeats
    result = {
        "stage": "flame_forward", "device": str(args.device), "frames": frames, "seconds": round(seconds, 4),
        "fps": round(frames / seconds, 1), "batch": args.batch, "threads": torch.get_num_threads(),
        "model": str(path) if path else "random FLAME-format model",
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
