"""Audio cues for head-pose control: energy, onsets, voice activity and beats on the 25 fps grid.

Everything is derived from the per-frame amplitude envelope (``AudioFeatures.amplitude``, the mean
Hilbert envelope over each frame's 640 samples, SPEC §2), so presets and language-model curves react
to the same signal the generator's pose head sees. The cues are exposed to curve expressions as the
helpers ``env(t)``, ``onset(t)``, ``voice(t)`` and ``beat(t)`` (see :mod:`.dsl`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import FPS, SAMPLE_RATE
from ..errors import X3DError
from .dsl import AudioHelper

BEAT_WIDTH_S = 0.06
"""Standard deviation of the Gaussian pulse that ``beat(t)`` puts on each beat."""

DEFAULT_BPM = 100.0
"""Tempo of the regular beat grid used when there is no audio (or no rhythm can be found)."""


def _smooth(x: np.ndarray, frames: int) -> np.ndarray:
    """Hann-weighted moving average over ``frames`` (odd) frames, edges padded with edge values."""
    if frames <= 1 or x.size < 2:
        return x.astype(np.float64)
    w = np.hanning(frames + 2)[1:-1]  # drop numpy's zero end taps
    w /= w.sum()
    pad = frames // 2
    return np.convolve(np.pad(x, pad, mode="edge"), w, mode="valid")


def frame_amplitude(waveform: np.ndarray, sample_rate: int = SAMPLE_RATE, fps: float = FPS) -> np.ndarray:
    """(T,) mean Hilbert envelope per frame of a mono waveform (T = round(duration * fps)).

    The same definition as the generator's amplitude feature (SPEC §2); used when only a waveform
    is at hand (the ``control pose --audio`` command).
    """
    from scipy.signal import hilbert

    x = np.asarray(waveform, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise X3DError("the audio is empty")
    env = np.abs(hilbert(x))
    n_frames = max(1, int(round(x.size / sample_rate * fps)))
    hop = sample_rate / fps
    edges = np.minimum(np.round(np.arange(n_frames + 1) * hop).astype(np.int64), x.size)
    out = np.zeros(n_frames, np.float64)
    for i in range(n_frames):
        seg = env[edges[i] : max(edges[i + 1], edges[i] + 1)]
        out[i] = seg.mean() if seg.size else 0.0
    return out


@dataclass(frozen=True)
class AudioCues:
    """Per-frame cues of one clip.

    Attributes:
        energy: (T,) loudness in [0, 1] (envelope over its 95th percentile, clipped, lightly smoothed).
        onset: (T,) onset strength in [0, 1] (rise of log-energy).
        voice: (T,) smoothed voice activity in [0, 1] (0 in silences).
        beats: (B,) beat times in seconds, increasing.
        bpm: tempo estimate in beats per minute.
        fps: frame rate of the per-frame arrays.
        has_audio: False for the neutral cues of :meth:`silent`.
    """

    energy: np.ndarray
    onset: np.ndarray
    voice: np.ndarray
    beats: np.ndarray
    bpm: float
    fps: float = float(FPS)
    has_audio: bool = True

    @property
    def num_frames(self) -> int:
        return int(self.energy.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_amplitude(cls, amplitude: np.ndarray, fps: float = FPS) -> AudioCues:
        """Cues from the (T,) or (T, 1) per-frame amplitude envelope."""
        amp = np.asarray(amplitude, dtype=np.float64).reshape(-1)
        if amp.size == 0:
            raise X3DError("cannot derive audio cues from an empty amplitude envelope")
        if not np.all(np.isfinite(amp)):
            raise X3DError("the amplitude envelope contains NaN or infinite values")
        amp = np.maximum(amp, 0.0)
        ref = np.percentile(amp, 95)
        if ref <= 1e-8:
            return cls.silent(amp.size, fps)
        energy = np.clip(_smooth(amp / ref, 3), 0.0, 1.0)
        log_e = np.log(amp / ref + 1e-3)
        rise = np.maximum(np.diff(log_e, prepend=log_e[0]), 0.0)
        top = np.percentile(rise, 98)
        onset = np.clip(rise / top, 0.0, 1.0) if top > 1e-8 else np.zeros_like(rise)
        # Voice activity: above 10 % of the loud level, held 0.16 s either side (bridges the gaps
        # between syllables), then smoothed over 0.2 s.
        from scipy.ndimage import maximum_filter1d

        active = maximum_filter1d((amp / ref > 0.1).astype(np.float64), size=2 * int(0.16 * fps) + 1, mode="nearest")
        voice = np.clip(_smooth(active, 5), 0.0, 1.0)
        bpm, beats = _beats(onset, energy, fps)
        return cls(energy, onset, voice, beats, bpm, float(fps), True)

    @classmethod
    def from_waveform(cls, waveform: np.ndarray, sample_rate: int = SAMPLE_RATE, fps: float = FPS) -> AudioCues:
        """Cues from a mono waveform (computes the per-frame envelope first)."""
        return cls.from_amplitude(frame_amplitude(waveform, sample_rate, fps), fps)

    @classmethod
    def silent(cls, num_frames: int, fps: float = FPS) -> AudioCues:
        """Neutral cues for a clip without usable audio: medium energy, a regular 100 bpm beat grid."""
        if num_frames < 1:
            raise X3DError(f"a clip needs at least one frame, got {num_frames}")
        duration = num_frames / fps
        beats = np.arange(60.0 / DEFAULT_BPM / 2, duration, 60.0 / DEFAULT_BPM)
        return cls(
            np.full(num_frames, 0.5), np.zeros(num_frames), np.ones(num_frames), beats, DEFAULT_BPM, float(fps), False
        )

    # -- curve-language helpers ------------------------------------------------------------
    def _sample(self, values: np.ndarray, times: np.ndarray) -> np.ndarray:
        grid = np.arange(self.num_frames) / self.fps
        return np.interp(np.asarray(times, dtype=np.float64), grid, values)

    def env(self, times: np.ndarray) -> np.ndarray:
        """Energy in [0, 1] at ``times`` (seconds; held at the ends)."""
        return self._sample(self.energy, times)

    def onset_at(self, times: np.ndarray) -> np.ndarray:
        """Onset strength in [0, 1] at ``times``."""
        return self._sample(self.onset, times)

    def voice_at(self, times: np.ndarray) -> np.ndarray:
        """Voice activity in [0, 1] at ``times``."""
        return self._sample(self.voice, times)

    def beat(self, times: np.ndarray) -> np.ndarray:
        """Sum of unit Gaussian pulses (sd 0.06 s) centred on the beats, clipped to [0, 1]."""
        x = np.asarray(times, dtype=np.float64)
        if self.beats.size == 0:
            return np.zeros_like(x)
        # Only the nearest beat matters: pulses are far narrower than beat spacing.
        idx = np.clip(np.searchsorted(self.beats, x), 1, max(self.beats.size - 1, 1))
        left = self.beats[np.maximum(idx - 1, 0)]
        right = self.beats[np.minimum(idx, self.beats.size - 1)]
        d = np.minimum(np.abs(x - left), np.abs(x - right))
        return np.exp(-0.5 * (d / BEAT_WIDTH_S) ** 2)

    def helpers(self) -> dict[str, AudioHelper]:
        """The audio helper functions for curve expressions, by name."""
        return {"env": self.env, "onset": self.onset_at, "voice": self.voice_at, "beat": self.beat}

    def constants(self) -> dict[str, float]:
        """The named constants for curve expressions."""
        return {"duration": self.duration, "bpm": self.bpm}

    # -- prompt summary --------------------------------------------------------------------
    def summary(self, max_peaks: int = 8, max_beats: int = 24) -> dict:
        """A small JSON-able description of the audio for a language-model prompt."""
        peaks = _peaks(self.energy, self.fps, max_peaks)
        silences = _silences(self.voice, self.fps)
        return {
            "duration_s": round(self.duration, 2),
            "tempo_bpm": round(self.bpm, 1),
            "mean_energy": round(float(self.energy.mean()), 3),
            "energy_peaks": [{"t": round(t, 2), "energy": round(v, 2)} for t, v in peaks],
            "beats_s": [round(float(b), 2) for b in self.beats[:max_beats]],
            "silences_s": [[round(a, 2), round(b, 2)] for a, b in silences[:8]],
            "has_audio": self.has_audio,
        }


def _peaks(energy: np.ndarray, fps: float, count: int) -> list[tuple[float, float]]:
    """Up to ``count`` strongest local maxima of energy, at least 0.5 s apart, sorted by time."""
    if energy.size < 3:
        return []
    is_max = (energy[1:-1] >= energy[:-2]) & (energy[1:-1] > energy[2:])
    cand = np.nonzero(is_max)[0] + 1
    cand = cand[np.argsort(-energy[cand], kind="stable")]
    chosen: list[int] = []
    gap = int(0.5 * fps)
    for i in cand:
        if all(abs(int(i) - j) >= gap for j in chosen):
            chosen.append(int(i))
        if len(chosen) >= count:
            break
    return [(i / fps, float(energy[i])) for i in sorted(chosen)]


def _silences(voice: np.ndarray, fps: float, min_s: float = 0.3) -> list[tuple[float, float]]:
    quiet = voice < 0.5
    out, start = [], None
    for i, q in enumerate(np.append(quiet, False)):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if (i - start) / fps >= min_s:
                out.append((start / fps, i / fps))
            start = None
    return out


def _beats(onset: np.ndarray, energy: np.ndarray, fps: float) -> tuple[float, np.ndarray]:
    """Tempo (60-180 bpm) by autocorrelation of onset strength, then beats as onset peaks on that grid.

    Falls back to a regular 100 bpm grid when the clip is too short or has no rhythm.
    """
    n = onset.size
    duration = n / fps
    lo, hi = int(np.floor(fps * 60 / 180)), int(np.ceil(fps * 60 / 60))
    flux = onset - onset.mean()
    if n < 2 * hi or not np.any(flux):
        return DEFAULT_BPM, np.arange(60.0 / DEFAULT_BPM / 2, duration, 60.0 / DEFAULT_BPM)
    ac = np.correlate(flux, flux, mode="full")[n - 1 :]
    lags = np.arange(lo, hi + 1)
    # Mild preference for ~110 bpm avoids octave errors on ambiguous speech rhythm.
    prior = np.exp(-0.5 * (np.log2(lags / (fps * 60 / 110)) / 1.0) ** 2)
    period = int(lags[np.argmax(ac[lags] * prior)])
    bpm = 60.0 * fps / period
    # Beats: strongest onset in each period-long window, advanced greedily (at least 0.7 period apart).
    beats, i = [], 0
    while i < n:
        j = min(n, i + period)
        k = i + int(np.argmax(onset[i:j]))
        if onset[k] > 0.05 and energy[k] > 0.05 and (not beats or k - beats[-1] >= 0.7 * period):
            beats.append(k)
        i = j
    return float(bpm), np.asarray(beats, dtype=np.float64) / fps
