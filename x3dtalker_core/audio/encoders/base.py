"""The frame-encoder interface: 16 kHz waveform -> (T, D) features on the 25 fps grid."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional

import numpy as np

from ..io import fit_to_frames, num_frames_for
from ..windows import CancelFn, ProgressFn
from ... import SAMPLE_RATE


class FrameEncoder(ABC):
    """Encodes a 16 kHz mono waveform into one feature row per 40 ms frame.

    Attributes:
        name: registry name (``mel``, ``wavlm``, ``prosody``, ``emotion2vec``); checkpoints record it.
        role: ``linguistic`` or ``emotion``.
        paper: True for the encoders the paper uses; False for the offline stand-ins, which are
            weaker (hand-made features, no pretrained speech knowledge).
    """

    name: str = ""
    role: str = ""
    paper: bool = False

    @property
    @abstractmethod
    def dim(self) -> int:
        """Feature width D."""

    @property
    def identity(self) -> str:
        """A string that changes whenever the features would (name, settings, model fingerprint); cache key."""
        return self.name

    def describe(self) -> dict:
        """JSON-able record of this encoder (stored with features and in checkpoints)."""
        return {"name": self.name, "dim": self.dim, "identity": self.identity, "paper": self.paper}

    def num_steps(self, num_frames: int) -> int:
        """Progress units :meth:`encode` reports for a clip of ``num_frames`` frames."""
        return 1

    def encode(
        self,
        waveform: np.ndarray,
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelFn] = None,
    ) -> np.ndarray:
        """(N,) float32 16 kHz -> (T, D) float32 with ``T = round(N / 640)``."""
        x = np.asarray(waveform, dtype=np.float32).reshape(-1)
        t = num_frames_for(x.size, SAMPLE_RATE)
        feats = self._encode_frames(fit_to_frames(x, t), t, progress, cancel)
        assert feats.shape == (t, self.dim), (self.name, feats.shape, t)
        return np.ascontiguousarray(feats, dtype=np.float32)

    @abstractmethod
    def _encode_frames(
        self, waveform: np.ndarray, num_frames: int, progress: Optional[ProgressFn], cancel: Optional[CancelFn]
    ) -> np.ndarray:
        """``waveform`` is exactly ``num_frames * 640`` samples; return (num_frames, dim)."""
