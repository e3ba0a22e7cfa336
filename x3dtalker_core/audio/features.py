"""The :class:`AudioFeatures` bundle: everything the generator needs from one clip, computed once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from ..errors import X3DError


@dataclass(frozen=True)
class AudioFeatures:
    """Per-frame audio features of one clip, all on the same 25 fps grid of T frames.

    Attributes:
        linguistic: (T, D_l) float32, e.g. WavLM last hidden state (768) or log-mel (offline default).
        amplitude: (T, 1) float32, mean Hilbert envelope over each frame's 640 samples.
        emotion: (T, D_e) float32, e.g. emotion2vec (768) or prosody (offline default).
        envelope: (T * 640,) float32 sample-level Hilbert envelope at 16 kHz (noise anchors).
        linguistic_encoder: encoder name (``wavlm``, ``mel``, ...); checkpoints record it.
        emotion_encoder: encoder name (``emotion2vec``, ``prosody``, ...).
    """

    linguistic: np.ndarray
    amplitude: np.ndarray
    emotion: np.ndarray
    envelope: np.ndarray
    linguistic_encoder: str
    emotion_encoder: str
    fps: float = float(FPS)
    sample_rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        t = np.asarray(self.linguistic).shape[0]
        for name in ("linguistic", "amplitude", "emotion", "envelope"):
            arr = np.asarray(getattr(self, name), dtype=np.float32)
            object.__setattr__(self, name, arr)
        if self.linguistic.ndim != 2 or self.emotion.ndim != 2:
            raise X3DError("linguistic and emotion features must be 2-D (T, D)")
        if self.amplitude.shape != (t, 1):
            raise X3DError(f"amplitude must have shape ({t}, 1), got {self.amplitude.shape}")
        if self.emotion.shape[0] != t:
            raise X3DError(f"emotion features have {self.emotion.shape[0]} frames, linguistic have {t}")
        if self.envelope.shape != (t * SAMPLES_PER_FRAME,):
            raise X3DError(f"envelope must have shape ({t * SAMPLES_PER_FRAME},), got {self.envelope.shape}")

    @property
    def num_frames(self) -> int:
        return self.linguistic.shape[0]

    @property
    def linguistic_dim(self) -> int:
        return self.linguistic.shape[1]

    @property
    def emotion_dim(self) -> int:
        return self.emotion.shape[1]

    def slice(self, start: int, stop: int) -> AudioFeatures:
        """Frames [start, stop) (envelope sliced to the same samples)."""
        s0, s1 = start * SAMPLES_PER_FRAME, stop * SAMPLES_PER_FRAME
        return AudioFeatures(
            self.linguistic[start:stop], self.amplitude[start:stop], self.emotion[start:stop],
            self.envelope[s0:s1], self.linguistic_encoder, self.emotion_encoder, self.fps, self.sample_rate,
        )
