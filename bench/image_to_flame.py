"""Reference photo -> FLAME ('landmarks' backend): seconds per 512x512 image on CPU.

    python bench/image_to_flame.py --json [--image PATH] [--repeats 3] [--threads 2]

Default image: scikit-image's public-domain ``astronaut`` (512x512) when scikit-image is installed,
else the dev FLAME head rendered skin-shaded at 512x512. Models are loaded once and one warm-up
call runs first (LiteRT's XNNPACK set-up); the reported time is the mean of ``--repeats`` calls of
the whole backend: detection, face mesh (two passes) and the FLAME fit. "fps" = images per second.
Also reports the mean landmark reprojection residual (pixels) of the last call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def default_image():
    import numpy as np

    try:
        import skimage

        return os.path.join(os.path.dirname(skimage.__file__), "data", "astronaut.png"), "astronaut"
    except ImportError:
        import torch

        from x3dtalker_core.flame import load_flame_model, load_masks
        from x3dtalker_core.reconstruct.overlay import render_head

        model = load_flame_model(landmarks=False)
        with torch.no_grad():
            v = model(pose=torch.tensor([[0.1, 0.3, 0.0, 0.15, 0.0, 0.0]]))[0].numpy()
        img = render_head(v, model.faces.numpy(), np.array([4.5, 0, 0]), np.array([0, 0, 512.0]), 512, 512, load_masks())
        return img, "rendered dev head"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--image")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from x3dtalker_core.reconstruct import LandmarkReconstructor, reconstruct_reference
    from x3dtalker_core.reconstruct.detector import MediaPipeFaceMesh
    from x3dtalker_core.reconstruct.image import load_image

    image, name = (args.image, args.image) if args.image else default_image()
    rgb = load_image(image)
    t0 = time.perf_counter()
    rec = LandmarkReconstructor(detector=MediaPipeFaceMesh(num_threads=args.threads))
    load_s = time.perf_counter() - t0
    reconstruct_reference(rgb, reconstructor=rec)  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.repeats):
        result = reconstruct_reference(rgb, reconstructor=rec)
    seconds = (time.perf_counter() - t0) / args.repeats
    out = {
        "stage": "image_to_flame",
        "device": "cpu",
        "frames": 1,
        "seconds": round(seconds, 4),
        "fps": round(1.0 / seconds, 3),
        "image": name,
        "image_size": list(rgb.shape[:2]),
        "threads": args.threads,
        "load_seconds": round(load_s, 3),
        "residual_px": round(result.residual_px, 3),
    }
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
