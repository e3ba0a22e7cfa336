"""Audio loading: any file, ComfyUI ``AUDIO`` dict or array -> 16 kHz mono float32, on the 25 fps grid.

Every feature of a clip has exactly ``T = round(duration * 25)`` rows (SPEC §2), where the
duration is that of the input as given. :func:`load_audio` returns the waveform unchanged in
length (after resampling); :func:`fit_to_frames` pads with zeros or crops it to ``T * 640``
samples, which is what the encoders see.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Union

import numpy as np

from .. import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from ..errors import InvalidFileError, X3DError

AudioSource = Union[str, os.PathLike, dict, np.ndarray, Any]
"""A file path, a ComfyUI ``AUDIO`` dict ``{"waveform": Tensor[B, C, S], "sample_rate": int}``,
or a waveform array (``(N,)`` or ``(C, N)``; 16 kHz unless a sample rate is given)."""

# soundfile (libsndfile) decodes these itself; everything else goes through PyAV (FFmpeg).
_SOUNDFILE_SUFFIXES = {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64"}


def describe_source(source: AudioSource) -> str:
    """A short human name for an audio source, used in error messages."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, dict):
        return "AUDIO input"
    return "audio array"


def num_frames_for(num_samples: int, sample_rate: int) -> int:
    """``T = round(duration * 25)`` with halves rounded up (not Python's banker's rounding)."""
    return int(math.floor(num_samples * FPS / sample_rate + 0.5))


def _to_float(x: np.ndarray) -> np.ndarray:
    """Integer PCM -> float32 in [-1, 1]; floats are cast to float32 unchanged."""
    if np.issubdtype(x.dtype, np.integer):
        info = np.iinfo(x.dtype)
        if info.min == 0:  # unsigned PCM (8-bit WAV) is offset-binary
            return ((x.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)).astype(np.float32)
        return (x.astype(np.float64) / float(-info.min)).astype(np.float32)
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32, copy=False)
    raise X3DError(f"audio samples must be integers or floats, got dtype {x.dtype}")


def _downmix(x: np.ndarray, channels_first: bool) -> np.ndarray:
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise X3DError(f"audio array must be (samples,) or (channels, samples), got shape {x.shape}")
    return x.mean(axis=0 if channels_first else 1, dtype=np.float32)


def resample(x: np.ndarray, sample_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono float32 signal with soxr (high quality, linear phase); (N,) -> (N',)."""
    if sample_rate == target_rate:
        return x.astype(np.float32, copy=False)
    if sample_rate <= 0:
        raise X3DError(f"sample rate must be positive, got {sample_rate}")
    import soxr

    return soxr.resample(x.astype(np.float32, copy=False), sample_rate, target_rate, quality="HQ").astype(
        np.float32, copy=False
    )


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (N, C)
    return data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0], int(sr)


def _decode_pyav(path: Path) -> tuple[np.ndarray, int]:
    try:
        import av
    except ImportError as exc:
        raise InvalidFileError(
            f"{path}: this format needs PyAV (pip install av), or convert the file to WAV/FLAC first"
        ) from exc
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InvalidFileError(f"{path}: the file has no audio stream")
            stream = container.streams.audio[0]
            # Let FFmpeg convert to float mono at the stream's own rate; we resample with soxr.
            resampler = av.AudioResampler(format="flt", layout="mono", rate=stream.rate or stream.sample_rate)
            rate = int(stream.rate or stream.sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except InvalidFileError:
        raise
    except Exception as exc:  # FFmpeg errors come in many classes; all mean "cannot decode"
        raise InvalidFileError(f"{path}: cannot decode audio ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        return np.zeros(0, np.float32), rate
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def read_audio_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode a file to mono float32 at its own rate: (N,), sample_rate.

    WAV/FLAC/OGG/MP3/AIFF go through soundfile; anything else (m4a, aac, opus, video files) and
    files soundfile rejects go through PyAV.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise X3DError(f"audio file {p} does not exist")
    if p.is_dir():
        raise X3DError(f"audio file {p} is a folder, expected an audio file")
    if p.stat().st_size == 0:
        raise InvalidFileError(f"audio file {p} is empty (0 bytes)")
    if p.suffix.lower() in _SOUNDFILE_SUFFIXES:
        import soundfile as sf

        try:
            return _decode_soundfile(p)
        except sf.LibsndfileError:
            pass  # e.g. a mislabelled container; FFmpeg may still read it
        except RuntimeError:
            pass
    try:
        return _decode_pyav(p)
    except InvalidFileError as exc:
        raise InvalidFileError(f"{p} is not a readable audio file ({exc})") from exc


def _from_comfy_audio(audio: dict) -> tuple[np.ndarray, int]:
    if "waveform" not in audio or "sample_rate" not in audio:
        raise X3DError("AUDIO input must be a dict with 'waveform' [B, C, S] and 'sample_rate'")
    wav = audio["waveform"]
    if hasattr(wav, "detach"):  # torch tensor, possibly on GPU or in bf16
        wav = wav.detach().float().cpu().numpy()
    wav = np.asarray(wav)
    if wav.ndim == 3:
        if wav.shape[0] != 1:
            raise X3DError(f"AUDIO input holds a batch of {wav.shape[0]} clips; encode one clip at a time")
        wav = wav[0]
    if wav.ndim == 1:
        wav = wav[None]
    if wav.ndim != 2:
        raise X3DError(f"AUDIO waveform must be [B, C, S], got shape {tuple(np.shape(audio['waveform']))}")
    return _downmix(_to_float(wav), channels_first=True), int(audio["sample_rate"])


def _from_array(x: Any, sample_rate: int | None) -> tuple[np.ndarray, int]:
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    x = np.asarray(x)
    if x.ndim == 2:
        # (C, N) is the torch/ComfyUI convention; accept (N, C) (soundfile's) when unambiguous.
        channels_first = x.shape[0] <= x.shape[1]
        x = _downmix(_to_float(x), channels_first=channels_first)
    else:
        x = _downmix(_to_float(x), channels_first=True)
    return x, int(sample_rate or SAMPLE_RATE)


def load_audio(source: AudioSource, sample_rate: int | None = None) -> np.ndarray:
    """Load any audio source as a 16 kHz mono float32 waveform.

    Args:
        source: file path, ComfyUI ``AUDIO`` dict, or array/tensor ``(N,)`` / ``(C, N)``.
        sample_rate: the rate of an array ``source`` (default 16000); ignored for files and dicts.

    Returns:
        (N,) float32 at 16 kHz; its duration is that of the input.

    Raises:
        X3DError: missing/empty/unreadable file, no samples, NaN or infinite samples, or a clip
            shorter than one 40 ms frame; the message names the input.
    """
    name = describe_source(source)
    if isinstance(source, (str, os.PathLike)):
        x, sr = read_audio_file(source)
    elif isinstance(source, dict):
        x, sr = _from_comfy_audio(source)
    else:
        x, sr = _from_array(source, sample_rate)
    if x.size == 0:
        raise InvalidFileError(f"{name} contains no audio samples")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).sum())
        raise InvalidFileError(f"{name} has {bad} NaN or infinite samples; repair or re-export the audio")
    if num_frames_for(x.size, sr) < 1:
        raise InvalidFileError(
            f"{name} is {1000 * x.size / sr:.1f} ms long, shorter than one {1000 // FPS} ms frame; "
            "give at least 20 ms of audio"
        )
    y = resample(x, sr)
    # Keep the nominal length: soxr may be off by a sample at odd ratios; the grid comes from the input.
    n = int(round(x.size * SAMPLE_RATE / sr))
    if y.size != n:
        y = np.pad(y, (0, n - y.size)) if y.size < n else y[:n]
    return np.ascontiguousarray(y, dtype=np.float32)


def fit_to_frames(waveform: np.ndarray, num_frames: int | None = None) -> np.ndarray:
    """Pad with zeros or crop a 16 kHz waveform to exactly ``T * 640`` samples; (N,) -> (T*640,).

    ``num_frames`` defaults to ``round(N / 640)``.
    """
    x = np.asarray(waveform, dtype=np.float32).reshape(-1)
    t = num_frames_for(x.size, SAMPLE_RATE) if num_frames is None else int(num_frames)
    n = t * SAMPLES_PER_FRAME
    if x.size < n:
        return np.pad(x, (0, n - x.size))
    return x[:n]
