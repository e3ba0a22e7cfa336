"""Spoken-language identification with Whisper (paper Appendix B.1, step 3).

Weights are an ``openai-whisper`` checkpoint file (``tiny.pt`` ... ``large-v3.pt``: a torch pickle
holding ``{"dims": ..., "model_state_dict": ...}``) found through the asset ``whisper`` or given as a
path. Whisper reads the first 30 s of 16 kHz audio and scores its language tokens after
start-of-transcript; the probability of the kept language is the confidence the filter thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InvalidFileError, X3DError


@dataclass(frozen=True)
class LanguageGuess:
    """Most likely language code, its probability, and the probability of each language asked about."""

    language: str
    probability: float
    probabilities: dict[str, float]


def _import_whisper():
    try:
        import whisper
    except ImportError:
        raise X3DError("language identification needs openai-whisper: pip install openai-whisper "
                       "(or turn the filter off with --no-language)") from None
    return whisper


class WhisperLanguageID:
    """A loaded Whisper model that names the language of a clip (reuse it for many clips)."""

    def __init__(self, checkpoint: str | Path | None = None, device: str = "cpu") -> None:
        whisper = _import_whisper()
        if checkpoint is None:
            from ...assets import find_asset

            checkpoint = find_asset("whisper")
        path = Path(checkpoint)
        if not path.is_file():
            raise InvalidFileError(f"Whisper checkpoint not found: {path}")
        try:
            self.model = whisper.load_model(str(path), device=device)
        except (RuntimeError, KeyError, TypeError, EOFError, ValueError) as exc:
            raise InvalidFileError(f"{path} is not an openai-whisper checkpoint ({exc.__class__.__name__}: "
                                   f"{str(exc)[:120]})") from None
        if not self.model.is_multilingual:
            raise X3DError(f"{path.name} is an English-only Whisper model (*.en): it cannot identify languages; "
                           "use a multilingual checkpoint such as base.pt")
        self.path = path
        self._whisper = whisper

    def __call__(self, audio: np.ndarray) -> LanguageGuess:
        """Language of (N,) float32 16 kHz audio (its first 30 s)."""
        import torch

        w = self._whisper
        n_mels = self.model.dims.n_mels
        segment = w.pad_or_trim(torch.from_numpy(np.asarray(audio, np.float32).reshape(-1)))
        mel = w.log_mel_spectrogram(segment, n_mels=n_mels).to(self.model.device)
        with torch.no_grad():
            _, probs = self.model.detect_language(mel)
        best = max(probs, key=probs.get)
        return LanguageGuess(best, float(probs[best]), {k: float(v) for k, v in probs.items()})
