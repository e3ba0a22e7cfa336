"""Reference images: read any common photo and bring it to (H, W, 3) uint8 RGB.

Everything downstream (detector, EMOCA crop, overlay) works on that one layout, so the odd inputs a
user may hand over are converted here once: grayscale, RGBA (composited onto white, because a
cut-out portrait usually has a transparent background), 16-bit and float images, and ComfyUI's
(1, H, W, 3) float batches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidFileError, X3DError

MAX_PIXELS = 100_000_000
"""Refuse images above 100 megapixels (a 10k x 10k photo); an 8k photo (33 MP) is fine."""


def read_image_file(path: str | Path) -> np.ndarray:
    """Decode an image file (PNG, JPEG, WebP, TIFF, BMP ...) to a numpy array, EXIF rotation applied."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise X3DError(f"image file not found: {path}")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("P", "PA", "LA", "CMYK", "YCbCr", "HSV", "LAB", "1"):
                img = img.convert("RGBA" if ("A" in img.mode or "transparency" in img.info) else "RGB")
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidFileError(f"cannot read image {path}: {exc}") from None


def to_rgb_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Convert an image array to (H, W, 3) uint8 RGB.

    Accepts (H, W), (H, W, 1|2|3|4) or a batch of one (1, H, W, C); uint8, uint16, other integer
    types and floats in [0, 1] (ComfyUI IMAGE). Alpha is composited onto white.
    """
    arr = np.asarray(image)
    if arr.ndim == 4:
        if arr.shape[0] != 1:
            raise X3DError(f"{name} is a batch of {arr.shape[0]} images; give one image")
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise X3DError(f"{name} must be (H, W), (H, W, C) with C in 1..4, got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise X3DError(f"{name} is empty ({arr.shape[1]}x{arr.shape[0]} pixels)")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise X3DError(f"{name} has {arr.shape[1]}x{arr.shape[0]} pixels; resize it below 100 megapixels")

    if arr.dtype == np.uint8:
        img = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.bool_:
        img = arr.astype(np.float32)
    elif np.issubdtype(arr.dtype, np.integer):
        # 16-bit PNG/TIFF: scale by the type's range, not the image maximum (keeps exposure).
        img = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    elif np.issubdtype(arr.dtype, np.floating):
        img = arr.astype(np.float32)
        if not np.all(np.isfinite(img)):
            raise X3DError(f"{name} contains NaN or infinite values")
        if img.min(initial=0.0) < -1e-3:
            raise X3DError(f"{name} is float with values in [{img.min():.3g}, {img.max():.3g}]; expected [0, 1]")
        if img.max(initial=0.0) > 1.0 + 1e-3:
            # A float image in 0..255 (a common mistake); anything else is out of range.
            if img.max() <= 255.0 + 1e-3 and img.min() >= 0.0:
                img = img / 255.0
            else:
                raise X3DError(f"{name} is float with values in [{img.min():.3g}, {img.max():.3g}]; expected [0, 1]")
    else:
        raise X3DError(f"{name} has unsupported dtype {arr.dtype}")
    img = np.clip(img, 0.0, 1.0)

    channels = img.shape[2]
    if channels in (2, 4):
        alpha = img[:, :, -1:]
        color = img[:, :, :-1]
        img = color * alpha + (1.0 - alpha)  # onto white
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(np.round(img * 255.0).astype(np.uint8))


def load_image(image: str | Path | np.ndarray) -> np.ndarray:
    """A path or an array -> (H, W, 3) uint8 RGB."""
    if isinstance(image, (str, Path)):
        return to_rgb_uint8(read_image_file(image), name=str(image))
    if hasattr(image, "detach"):  # a torch tensor (ComfyUI IMAGE)
        image = image.detach().cpu().numpy()
    return to_rgb_uint8(image)


def resize_area(image: np.ndarray, scale: float) -> np.ndarray:
    """Downscale (H, W, 3) uint8 by ``scale`` < 1 with antialiasing (for detection on huge photos)."""
    import torch
    import torch.nn.functional as F

    h, w = image.shape[:2]
    out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
    t = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    t = F.interpolate(t, size=(out_h, out_w), mode="bilinear", antialias=True, align_corners=False)
    return t[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
