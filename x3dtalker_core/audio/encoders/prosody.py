"""``prosody``: hand-made pitch/loudness/timbre features — the built-in, offline emotion default.

WEAKER THAN THE PAPER'S ENCODER. The paper uses emotion2vec+ (a self-supervised model fine-tuned
for speech emotion recognition on tens of thousands of hours); these ten numbers per frame only
describe how the voice moves (pitch, loudness, brightness), not what emotion it carries. They
need no download and give the expression branch a real, speaker-normalisable signal for
development and bootstrap checkpoints. Use ``emotion2vec`` for quality.

Per 40 ms frame (columns, in order):

0. ``log_f0``: log2(F0 / 100 Hz) averaged over voiced 10 ms sub-frames; unvoiced stretches are
   linearly interpolated between voiced neighbours (held at the ends; 0 when nothing is voiced).
1. ``voicing``: fraction of the frame's four sub-frames judged voiced (YIN, threshold 0.15).
2. ``energy``: log10 of the mean square of the 25 ms Hann-windowed signal (Bels; -10 = silence floor).
3. ``centroid``: spectral centroid in kHz.
4. ``tilt``: slope of log10 power against log2 frequency over 100 Hz–8 kHz (Bels per octave).
5–9. the frame-to-frame deltas (``np.gradient``, per frame) of columns 0–4.

F0 is YIN (de Cheveigné & Kawahara 2002) vectorised over sub-frames: 60–500 Hz search range,
704-sample integration window, parabolic refinement.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ... import SAMPLE_RATE, SAMPLES_PER_FRAME
from ..windows import CancelFn, ProgressFn, check_cancel, frame_chunks, padded_slice
from .base import FrameEncoder

COLUMNS = ("log_f0", "voicing", "energy", "centroid", "tilt")
SUB_HOP = 160  # 10 ms sub-frames, 4 per video frame
SUBS = SAMPLES_PER_FRAME // SUB_HOP
F0_MIN, F0_MAX = 60.0, 500.0
TAU_MIN = int(SAMPLE_RATE // F0_MAX)  # 32
TAU_MAX = int(np.ceil(SAMPLE_RATE / F0_MIN))  # 267
YIN_WINDOW = 704  # integration window W; frame length W + TAU_MAX
YIN_THRESHOLD = 0.15
SPEC_WIN = 400
SPEC_FFT = 512
SILENCE_POWER = 1e-6  # -60 dBFS mean square: below it nothing is voiced
POWER_FLOOR = 1e-10


def yin_f0(frames: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """YIN pitch of each row of ``frames`` (F, W + TAU_MAX) -> (f0 Hz (F,), voiced (F,) bool)."""
    from scipy.fft import irfft, next_fast_len, rfft

    x = frames.astype(np.float64)
    w = x.shape[1] - TAU_MAX
    nfft = next_fast_len(x.shape[1] + w)
    # r(tau) = sum_{j<W} x_j x_{j+tau}: cross-correlation of the first W samples with the frame
    r = irfft(np.conj(rfft(x[:, :w], nfft)) * rfft(x, nfft), nfft)[:, : TAU_MAX + 1]
    csum = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x * x, axis=1)], axis=1)
    taus = np.arange(TAU_MAX + 1)
    e_tau = csum[:, taus + w] - csum[:, taus]  # energy of x[tau : tau + W]
    d = np.maximum(e_tau[:, :1] + e_tau - 2 * r, 0.0)
    # cumulative-mean-normalised difference d'(tau) = d(tau) * tau / sum_{k<=tau} d(k)
    cum = np.cumsum(d[:, 1:], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dn = np.where(cum > 0, d[:, 1:] * taus[1:] / cum, 1.0)
    dn = np.concatenate([np.ones((x.shape[0], 1)), dn], axis=1)  # index = tau
    search = dn[:, TAU_MIN : TAU_MAX]
    inner = search[:, 1:-1]
    local_min = (inner <= search[:, :-2]) & (inner <= search[:, 2:]) & (inner < YIN_THRESHOLD)
    has = local_min.any(axis=1)
    first = np.where(has, local_min.argmax(axis=1) + 1, search.argmin(axis=1))
    tau = first + TAU_MIN
    # parabolic refinement around tau
    tau_c = np.clip(tau, 1, TAU_MAX - 1)
    rows = np.arange(x.shape[0])
    a, b, c = dn[rows, tau_c - 1], dn[rows, tau_c], dn[rows, tau_c + 1]
    denom = a - 2 * b + c
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    tau_f = tau_c + np.clip(shift, -1, 1)
    f0 = sample_rate / tau_f
    power = e_tau[:, 0] / w
    voiced = has & (power > SILENCE_POWER) & (f0 >= F0_MIN) & (f0 <= F0_MAX)
    return f0, voiced


def _fill_unvoiced(log_f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(voiced)
    if idx.size == 0:
        return np.zeros_like(log_f0)
    return np.interp(np.arange(log_f0.size), idx, log_f0[idx]).astype(log_f0.dtype)


class ProsodyEncoder(FrameEncoder):
    """Pitch, voicing, energy, spectral centroid and tilt plus deltas: (T, 10). Offline; weaker than emotion2vec."""

    name = "prosody"
    role = "emotion"
    paper = False

    def __init__(self, chunk_frames: int = 250) -> None:
        self.chunk_frames = int(chunk_frames)
        self._spec_window = np.hanning(SPEC_WIN + 1)[:-1]
        freqs = np.fft.rfftfreq(SPEC_FFT, 1 / SAMPLE_RATE)
        self._freqs_khz = freqs / 1000.0
        band = (freqs >= 100) & (freqs <= SAMPLE_RATE / 2)
        self._tilt_band = band
        lf = np.log2(freqs[band])
        self._tilt_x = lf - lf.mean()  # centred regressor: slope = <x, y> / <x, x>

    @property
    def dim(self) -> int:
        return 2 * len(COLUMNS)

    @property
    def identity(self) -> str:
        return "prosody-v1"

    def num_steps(self, num_frames: int) -> int:
        return len(frame_chunks(num_frames, self.chunk_frames))

    def _subframe_features(self, waveform: np.ndarray, f0: int, f1: int) -> np.ndarray:
        """Features of the 10 ms sub-frames of frames [f0, f1): (4 (f1 - f0), 5) with NaN log-F0 when unvoiced."""
        n_sub = SUBS * (f1 - f0)
        first_centre = f0 * SAMPLES_PER_FRAME + SUB_HOP // 2
        # YIN frames: W + TAU_MAX samples, the integration window centred on the sub-frame centre
        yin_len = YIN_WINDOW + TAU_MAX
        lo = first_centre - YIN_WINDOW // 2
        seg = padded_slice(waveform, lo, lo + (n_sub - 1) * SUB_HOP + yin_len)
        yin_frames = np.lib.stride_tricks.sliding_window_view(seg, yin_len)[::SUB_HOP][:n_sub]
        f0_hz, voiced = yin_f0(yin_frames)
        # spectra: 25 ms Hann windows centred on the sub-frame centres
        lo = first_centre - SPEC_WIN // 2
        seg = padded_slice(waveform, lo, lo + (n_sub - 1) * SUB_HOP + SPEC_WIN)
        frames = np.lib.stride_tricks.sliding_window_view(seg, SPEC_WIN)[::SUB_HOP][:n_sub] * self._spec_window
        power = np.abs(np.fft.rfft(frames, SPEC_FFT, axis=1)) ** 2 + POWER_FLOOR
        energy = np.log10(np.maximum((frames**2).mean(axis=1), POWER_FLOOR))
        centroid = (power * self._freqs_khz).sum(axis=1) / power.sum(axis=1)
        y = np.log10(power[:, self._tilt_band])
        tilt = (y - y.mean(axis=1, keepdims=True)) @ self._tilt_x / (self._tilt_x @ self._tilt_x)
        log_f0 = np.where(voiced, np.log2(f0_hz / 100.0), np.nan)
        return np.stack([log_f0, voiced.astype(np.float64), energy, centroid, tilt], axis=1)

    def _encode_frames(
        self, waveform: np.ndarray, num_frames: int, progress: Optional[ProgressFn], cancel: Optional[CancelFn]
    ) -> np.ndarray:
        base = np.empty((num_frames, len(COLUMNS)), dtype=np.float64)
        voiced_any = np.zeros(num_frames, dtype=bool)
        chunks = frame_chunks(num_frames, self.chunk_frames)
        for i, (f0, f1) in enumerate(chunks):
            check_cancel(cancel)
            sub = self._subframe_features(waveform, f0, f1).reshape(f1 - f0, SUBS, len(COLUMNS))
            voiced = sub[:, :, 1] > 0
            n_voiced = voiced.sum(axis=1)
            voiced_any[f0:f1] = n_voiced > 0
            base[f0:f1, 0] = np.where(n_voiced > 0, np.nansum(sub[:, :, 0], axis=1) / np.maximum(n_voiced, 1), 0.0)
            base[f0:f1, 1:] = sub[:, :, 1:].mean(axis=1)
            if progress is not None:
                progress(i + 1, len(chunks))
        base[:, 0] = _fill_unvoiced(base[:, 0], voiced_any)
        deltas = np.gradient(base, axis=0) if num_frames > 1 else np.zeros_like(base)
        return np.concatenate([base, deltas], axis=1).astype(np.float32)
