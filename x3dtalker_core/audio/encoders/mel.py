"""``mel``: 80-band log-mel spectrogram stacked to 25 fps — the built-in, offline linguistic default.

WEAKER THAN THE PAPER'S ENCODER. The paper uses WavLM (self-supervised, trained on 94k hours of
speech), whose features carry phonetic content; a log-mel spectrogram is only the raw acoustic
input such models start from. It needs no download and is fine for development, smoke tests and
bootstrap checkpoints, but a generator trained on it lip-syncs worse. Use ``wavlm`` for quality.

Analysis: 25 ms Hann window (400 samples), 10 ms hop (160), 400-point FFT, Slaney mel scale and
area normalisation (librosa's and transformers' default) from 0 to 8 kHz, ``log10`` of power.
Four 10 ms frames fall in each 40 ms video frame; their 80-band vectors are concatenated,
oldest first, giving 320 values per frame. Mel frame ``k`` of video frame ``t`` is centred at
sample ``640 t + 80 + 160 k``, so the four are symmetric inside the frame.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ... import SAMPLE_RATE, SAMPLES_PER_FRAME
from ..windows import CancelFn, ProgressFn, check_cancel, frame_chunks, padded_slice
from .base import FrameEncoder

WIN = 400
HOP = 160
N_FFT = 400
N_MELS = 80
STACK = SAMPLES_PER_FRAME // HOP  # 4
LOG_FLOOR = 1e-10  # -100 dB: digital silence stays finite


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(
    n_freqs: int = N_FFT // 2 + 1, n_mels: int = N_MELS, sample_rate: int = SAMPLE_RATE,
    f_min: float = 0.0, f_max: float | None = None,
) -> np.ndarray:
    """Triangular Slaney-normalised mel filters; -> (n_freqs, n_mels) float32.

    Same definition as ``librosa.filters.mel`` / ``transformers.audio_utils.mel_filter_bank``
    with ``norm="slaney", mel_scale="slaney"`` (the tests compare against the latter).
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    fft_freqs = np.linspace(0, sample_rate / 2, n_freqs)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (fft_freqs[:, None] - lower[None]) / (centre - lower)[None]
    down = (upper[None] - fft_freqs[:, None]) / (upper - centre)[None]
    fb = np.maximum(0.0, np.minimum(up, down))
    fb *= (2.0 / (upper - lower))[None]  # equal area per filter
    return fb.astype(np.float32)


class MelEncoder(FrameEncoder):
    """Log-mel features, (T, 320) = 4 stacked 80-band frames per 40 ms. Offline; weaker than WavLM."""

    name = "mel"
    role = "linguistic"
    paper = False

    def __init__(self, n_mels: int = N_MELS, chunk_frames: int = 500) -> None:
        self.n_mels = int(n_mels)
        self.chunk_frames = int(chunk_frames)
        self._fb = mel_filterbank(n_mels=self.n_mels)
        self._window = np.hanning(WIN + 1)[:-1].astype(np.float32)  # periodic Hann

    @property
    def dim(self) -> int:
        return self.n_mels * STACK

    @property
    def identity(self) -> str:
        return f"mel-v1-{self.n_mels}x{STACK}"

    def num_steps(self, num_frames: int) -> int:
        return len(frame_chunks(num_frames, self.chunk_frames))

    def log_mel(self, segment: np.ndarray) -> np.ndarray:
        """Log-mel of a segment framed without padding: (S,) -> ((S - 400) // 160 + 1, n_mels)."""
        n = (segment.size - WIN) // HOP + 1
        frames = np.lib.stride_tricks.sliding_window_view(segment, WIN)[::HOP][:n] * self._window
        power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2
        return np.log10(np.maximum(power.astype(np.float32) @ self._fb, LOG_FLOOR))

    def _encode_frames(
        self, waveform: np.ndarray, num_frames: int, progress: Optional[ProgressFn], cancel: Optional[CancelFn]
    ) -> np.ndarray:
        out = np.empty((num_frames, self.dim), dtype=np.float32)
        chunks = frame_chunks(num_frames, self.chunk_frames)
        margin = (WIN - HOP) // 2  # 120: first window starts 120 samples before the frame, centred at +80
        for i, (f0, f1) in enumerate(chunks):
            check_cancel(cancel)
            seg = padded_slice(waveform, f0 * SAMPLES_PER_FRAME - margin, f1 * SAMPLES_PER_FRAME + margin, "reflect")
            mel = self.log_mel(seg)  # (4 (f1 - f0), n_mels)
            out[f0:f1] = mel.reshape(f1 - f0, self.dim)
            if progress is not None:
                progress(i + 1, len(chunks))
        return out
