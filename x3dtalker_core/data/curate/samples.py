"""Small generated talking videos for tests and benchmarks of ``curate`` and ``lift``.

A skin-shaded FLAME head (the same shading the reconstruction tests use, so MediaPipe finds it) opens
its jaw with the loudness of TTS speech; the result is encoded as a real H.264/AAC mp4. Rendering is
the slow part, so a few jaw openings are rendered once (:func:`render_jaw_atlas`) and every frame
shows the nearest one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the quiet river bank.",
    "Please remember to bring your notes and a warm coat to the meeting tomorrow.",
    "We walked along the harbour and watched the boats come home at sunset.",
    "A good story needs a clear beginning, a surprising middle and a kind ending.",
)


def speech(seconds: float, voice: str = "flite:slt") -> np.ndarray:
    """(round(seconds * 16000),) float32 TTS speech: sentences spoken one after another, cut to length."""
    from ..synth.tts import synthesize

    n = int(round(seconds * SAMPLE_RATE))
    parts, total, i = [], 0, 0
    while total < n:
        x = synthesize(SENTENCES[i % len(SENTENCES)], voice).audio
        parts.append(x)
        total += x.size
        i += 1
    audio = np.concatenate(parts)[:n]
    return (0.7 * audio / max(1e-6, float(np.abs(audio).max()))).astype(np.float32)


def render_jaw_atlas(size: int, levels: int = 6, max_jaw: float = 0.35, scale: float = 8.0,
                     flame_model=None, masks=None) -> np.ndarray:
    """(levels, size, size, 3) uint8 frontal head renders with the jaw opening 0..``max_jaw`` rad."""
    import torch

    from ...flame import load_flame_model, load_masks
    from ...reconstruct.overlay import render_head

    model = flame_model if flame_model is not None else load_flame_model()
    masks = masks if masks is not None else load_masks()
    pose = torch.zeros(levels, 6)
    pose[:, 3] = torch.linspace(0.0, max_jaw, levels)
    with torch.no_grad():
        verts = model(pose=pose).numpy()
    faces = model.faces.numpy()
    crop = np.array([0.0, 0.0, float(size)])
    return np.stack([render_head(v, faces, np.array([scale, 0.0, 0.0]), crop, size, size, masks) for v in verts])


def jaw_levels(audio: np.ndarray, num_frames: int, levels: int) -> np.ndarray:
    """(T,) atlas index per frame from the frame RMS of ``audio`` (loudest frames open widest)."""
    x = np.pad(audio, (0, max(0, num_frames * SAMPLES_PER_FRAME - audio.size)))[: num_frames * SAMPLES_PER_FRAME]
    rms = np.sqrt((x.reshape(num_frames, SAMPLES_PER_FRAME) ** 2).mean(axis=1))
    top = np.percentile(rms, 95) if rms.max() > 0 else 1.0
    return np.clip(np.round(rms / max(top, 1e-9) * (levels - 1)), 0, levels - 1).astype(int)


def make_talking_video(path: str | Path, audio: np.ndarray, atlas: np.ndarray, offset_frames: int = 0,
                       width: int | None = None, height: int | None = None, motion_audio: np.ndarray | None = None,
                       fps: float = FPS) -> Path:
    """Encode a talking-head mp4 (H.264 + AAC) whose jaw follows ``motion_audio`` (default ``audio``).

    Args:
        offset_frames: the jaw moves this many frames before the sound (audio late = out of sync).
        width, height: frame size; the square atlas is centred on a plain background (portrait or
            landscape framing).
    """
    from ...render.video import write_mp4

    t = int(round(audio.size / SAMPLE_RATE * fps))
    drive = audio if motion_audio is None else motion_audio
    idx = jaw_levels(drive, t, atlas.shape[0])
    if offset_frames:
        idx = np.concatenate([idx[offset_frames:], np.zeros(offset_frames, int)]) if offset_frames > 0 else \
            np.concatenate([np.zeros(-offset_frames, int), idx[:offset_frames]])
    frames = atlas[idx]
    s = atlas.shape[1]
    h, w = height or s, width or s
    if (h, w) != (s, s):
        canvas = np.empty((t, h, w, 3), np.uint8)
        canvas[:] = atlas[0, 0, 0]  # the render's top-left background colour
        y0, x0 = (h - s) // 2, (w - s) // 2
        ys, xs = slice(max(0, y0), max(0, y0) + min(h, s)), slice(max(0, x0), max(0, x0) + min(w, s))
        canvas[:, ys, xs] = frames[:, max(0, -y0) : max(0, -y0) + min(h, s), max(0, -x0) : max(0, -x0) + min(w, s)]
        frames = canvas
    return write_mp4(path, frames, fps, audio=audio, sample_rate=SAMPLE_RATE)
