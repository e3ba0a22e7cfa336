"""``extract_features``: one clip -> :class:`AudioFeatures`, computed once (training, CLI and nodes alike).

Optionally cached on disk, keyed by the SHA-256 of the 16 kHz waveform and the identities of both
encoders (name, settings and a model-folder fingerprint), so re-encoding the same clip with the
same encoders is a file read.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .. import SAMPLE_RATE
from ..errors import InvalidFileError
from .encoders import FrameEncoder, load_encoder
from .envelope import amplitude_envelope, frame_amplitude
from .features import AudioFeatures
from .io import AudioSource, describe_source, fit_to_frames, load_audio, num_frames_for
from .windows import CancelFn, ProgressFn, check_cancel

log = logging.getLogger(__name__)

EncoderChoice = Union[str, FrameEncoder]


def audio_hash(waveform: np.ndarray) -> str:
    """SHA-256 of the 16 kHz float32 samples (the cache's content key)."""
    data = np.ascontiguousarray(waveform, dtype=np.float32)
    return hashlib.sha256(memoryview(data).cast("B")).hexdigest()  # no copy of a long clip


def cache_path(cache_dir: str | os.PathLike, waveform: np.ndarray, linguistic: FrameEncoder, emotion: FrameEncoder) -> Path:
    key = hashlib.sha256(
        f"{audio_hash(waveform)}|{linguistic.identity}|{emotion.identity}".encode()
    ).hexdigest()[:32]
    return Path(cache_dir).expanduser() / key[:2] / f"{key}.npz"


class _StagedProgress:
    """Maps each stage's ``progress(done, total)`` onto one overall ``progress(done, total)``."""

    def __init__(self, progress: Optional[ProgressFn], totals: list[int]) -> None:
        self.progress, self.totals = progress, totals
        self.total = sum(totals)

    def stage(self, index: int) -> Optional[ProgressFn]:
        if self.progress is None:
            return None
        offset = sum(self.totals[:index])

        def report(done: int, total: int) -> None:
            self.progress(offset + min(done, self.totals[index]), self.total)

        return report


def extract_features(
    source: AudioSource,
    linguistic: EncoderChoice = "mel",
    emotion: EncoderChoice = "prosody",
    device=None,
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelFn] = None,
    *,
    linguistic_model: str | os.PathLike | None = None,
    emotion_model: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    sample_rate: int | None = None,
) -> AudioFeatures:
    """Audio-rich representation of one clip (paper §3.2, SPEC §2).

    Args:
        source: file path, ComfyUI ``AUDIO`` dict, or waveform array (16 kHz unless ``sample_rate``).
        linguistic: ``"mel"`` (offline default, weaker than the paper), ``"wavlm"`` (paper), or a
            loaded :class:`FrameEncoder` (reuse one across clips: loading WavLM takes seconds).
        emotion: ``"prosody"`` (offline default, weaker than the paper), ``"emotion2vec"`` (paper),
            or a loaded :class:`FrameEncoder`.
        device: torch device for the pretrained encoders (None = CUDA if available).
        progress: ``progress(done, total)`` callback over all stages.
        cancel: returns True to stop (raises :class:`~.windows.EncodingCancelled`); may raise itself.
        linguistic_model, emotion_model: model folder or hub id for a pretrained encoder given by
            name (default: the registered asset).
        cache_dir: when set, features are read from / written to this folder.
        sample_rate: rate of an array ``source``.

    Returns:
        :class:`AudioFeatures` with ``T = round(duration * 25)`` rows everywhere and a sample-level
        envelope of ``T * 640`` samples.
    """
    name = describe_source(source)
    wave = load_audio(source, sample_rate=sample_rate)
    duration = wave.size / SAMPLE_RATE
    t = num_frames_for(wave.size, SAMPLE_RATE)
    wave = fit_to_frames(wave, t)
    check_cancel(cancel)

    lin = linguistic if isinstance(linguistic, FrameEncoder) else load_encoder(
        linguistic, "linguistic", model=linguistic_model, device=device)
    emo = emotion if isinstance(emotion, FrameEncoder) else load_encoder(
        emotion, "emotion", model=emotion_model, device=device)
    if lin.role != "linguistic" or emo.role != "emotion":
        raise InvalidFileError(f"encoder roles swapped: {lin.name} is {lin.role}, {emo.name} is {emo.role}")

    cached = cache_path(cache_dir, wave, lin, emo) if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            feats = AudioFeatures.load(cached)
            if feats.num_frames == t:
                log.info("audio features from cache %s", cached)
                if progress is not None:
                    progress(1, 1)
                return feats
        except InvalidFileError:
            log.warning("ignoring unreadable cache entry %s", cached)

    stages = _StagedProgress(progress, [1, lin.num_steps(t), emo.num_steps(t)])
    envelope = amplitude_envelope(wave)
    amplitude = frame_amplitude(envelope)
    if progress is not None:
        stages.stage(0)(1, 1)
    ling = lin.encode(wave, progress=stages.stage(1), cancel=cancel)
    emot = emo.encode(wave, progress=stages.stage(2), cancel=cancel)

    feats = AudioFeatures(
        linguistic=ling, amplitude=amplitude, emotion=emot, envelope=envelope,
        linguistic_encoder=lin.name, emotion_encoder=emo.name,
        metadata={
            "encoders": {"linguistic": lin.describe(), "emotion": emo.describe()},
            "source": name,
            "duration_s": duration,
            "audio_sha256": audio_hash(wave),
        },
    )
    if cached is not None:
        try:
            feats.save(cached)
        except OSError as exc:  # a read-only or full cache must not fail the job
            log.warning("could not write feature cache %s: %s", cached, exc)
    return feats
