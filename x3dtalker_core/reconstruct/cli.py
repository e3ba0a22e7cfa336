"""``python -m x3dtalker_core reconstruct``: reference photo -> FLAME parameter file (+ overlay)."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "reconstruct",
        help="reference photo -> FLAME parameters (.npz)",
        description="Fit FLAME to the face in a photo (backends: landmarks [offline], emoca, params).",
    )
    p.add_argument("--image", required=True, help="photo (PNG/JPEG/...), or for --backend params a .npz / dataset folder")
    p.add_argument("--out", required=True, help="output parameter file (.npz, one frame with cam)")
    p.add_argument("--backend", choices=("landmarks", "emoca", "params"), default="landmarks")
    p.add_argument("--face-index", type=int, default=None, help="which face when several (0 = largest)")
    p.add_argument("--preview", help="write an overlay PNG of the fitted mesh and landmarks")
    p.add_argument("--emoca", help="EMOCA_v2_lr_mse_20 folder (default: the 'emoca' asset)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from ..errors import X3DError

    if args.preview and args.backend == "params":
        raise X3DError("--preview needs a photo backend (landmarks or emoca)")

    from ..params import FlameSequence
    from .api import reconstruct_reference

    result = reconstruct_reference(args.image, backend=args.backend, face_index=args.face_index,
                                   emoca_path=args.emoca)
    metadata = {"source": str(args.image), "reconstruction": result.summary()}
    FlameSequence.from_frames([result.params], metadata=metadata).save(args.out)
    if args.preview:
        write_preview(args.image, result, args.preview)
    print(json.dumps(result.summary()))
    return 0


def write_preview(image, result, path: str) -> None:
    """Overlay PNG: the fitted mesh blended over the photo, detected (green) / fitted (red) points."""
    import numpy as np
    import torch
    from PIL import Image

    from ..flame import load_flame_model, load_masks
    from ..io_utils import atomic_path
    from .image import load_image
    from .overlay import fit_overlay

    rgb = load_image(image)
    model = load_flame_model(n_shape=100, n_exp=50, landmarks=False)
    p = result.params
    with torch.no_grad():
        verts = model(shape=torch.as_tensor(p.shape)[None], expression=torch.as_tensor(p.exp)[None],
                      pose=torch.as_tensor(p.pose)[None])[0].numpy()
    try:
        masks = load_masks()
    except Exception:  # noqa: BLE001 - masks only colour the lips/eyes of the preview
        masks = None
    targets = result.target_points if result.target_points is not None else result.mesh_points
    out = fit_overlay(rgb, verts, model.faces.numpy(), p.cam, result.crop, targets, result.fitted_points, masks)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(np.ascontiguousarray(out)).save(tmp, format="PNG")
