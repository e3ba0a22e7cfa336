"""Audio-rich encoding and audio-dict helpers."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ...x3dtalker_core import SAMPLE_RATE
from ...x3dtalker_core.errors import X3DError

LINGUISTIC_CHOICES = ("ppg", "mel", "wavlm")
EMOTION_CHOICES = ("prosody", "emotion2vec")


def encode_audio(
    audio: dict,
    linguistic: str = "ppg",
    emotion: str = "prosody",
    linguistic_model: str = "",
    emotion_model: str = "",
    device=None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
):
    """ComfyUI AUDIO -> :class:`AudioFeatures` (T = round(duration * 25) frames).

    ``ppg``/``prosody`` are the offline defaults (``mel`` for older checkpoints); ``wavlm``/``emotion2vec`` are the paper's encoders,
    loaded from ``*_model`` (a folder) or their registered asset. The generator must have been
    trained on the same pair (the Generate node says so when not).
    """
    from ...x3dtalker_core.audio import extract_features

    if not isinstance(audio, dict) or "waveform" not in audio:
        raise X3DError("expected a ComfyUI AUDIO input (from Load Audio)")
    return extract_features(audio, linguistic=linguistic, emotion=emotion, device=device, progress=progress,
                            cancel=cancel, linguistic_model=linguistic_model.strip() or None,
                            emotion_model=emotion_model.strip() or None)


def mono_16k(audio: dict | None) -> np.ndarray | None:
    """ComfyUI AUDIO -> (N,) float32 16 kHz mono (None passes through)."""
    if audio is None:
        return None
    from ...x3dtalker_core.audio import load_audio

    return load_audio(audio)


def audio_dict(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict:
    """(N,) mono samples -> ComfyUI AUDIO ``{"waveform": (1, 1, N), "sample_rate"}``."""
    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)).reshape(1, 1, -1)
    return {"waveform": wave, "sample_rate": int(sample_rate)}
