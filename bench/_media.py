"""Shipped sample inputs for the benchmarks: the portrait, and the speech sample repeated to any length.

Not a benchmark itself (``bench`` lists only scripts whose name does not start with ``_``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT / "example_workflows" / "media"
PORTRAIT = MEDIA / "x3dtalker_portrait.png"
SPEECH = MEDIA / "x3dtalker_speech.wav"


def long_speech(path: Path, seconds: float) -> Path:
    """Write the shipped speech sample repeated (with 0.4 s pauses) to ``seconds`` at ``path``; returns ``path``."""
    import soundfile as sf

    wave, sr = sf.read(SPEECH, dtype="float32", always_2d=False)
    wave = wave if wave.ndim == 1 else wave.mean(axis=1)
    unit = np.concatenate([wave, np.zeros(int(0.4 * sr), np.float32)])
    reps = int(np.ceil(seconds * sr / unit.shape[0]))
    sf.write(path, np.tile(unit, reps)[: int(seconds * sr)], sr)
    return path
