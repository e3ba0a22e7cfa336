"""Audio augmentation for the synthetic corpus: speed, reverberation, noise and gain.

Speed perturbation changes the timeline (tempo and pitch together, like Kaldi's speed
perturbation), so it is applied to the clean speech *before* the teacher motion is computed, with
the phone times divided by the factor. Reverberation, noise and gain keep the timeline, so the motion
(computed from clean timings) stays correct under them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ... import SAMPLE_RATE
from .tts import Phone


@dataclass(frozen=True)
class Augmentation:
    """One clip's augmentation (recorded in its metadata).

    Attributes:
        speed: tempo factor (> 1 = faster and higher).
        reverb_rt60: reverberation time in seconds (0 = dry).
        reverb_wet: wet/dry mix of the reverberant part.
        noise_snr_db: signal-to-noise ratio of added noise (None = no noise).
        noise_colour: ``white``, ``pink`` or ``brown``.
        gain_db: overall gain applied last (the peak is kept below 0.99).
    """

    speed: float = 1.0
    reverb_rt60: float = 0.0
    reverb_wet: float = 0.0
    noise_snr_db: float | None = None
    noise_colour: str = "white"
    gain_db: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def sample_augmentation(rng: np.random.Generator, strength: float = 1.0) -> Augmentation:
    """Random augmentation; ``strength`` 0 gives the identity, 1 the corpus default."""
    if strength <= 0:
        return Augmentation()
    speed = float(1.0 + strength * rng.uniform(-0.1, 0.1)) if rng.random() < 0.5 else 1.0
    reverb = rng.random() < 0.3 * strength
    noisy = rng.random() < 0.5 * strength
    return Augmentation(
        speed=speed,
        reverb_rt60=float(rng.uniform(0.15, 0.6)) if reverb else 0.0,
        reverb_wet=float(rng.uniform(0.1, 0.4)) if reverb else 0.0,
        noise_snr_db=float(rng.uniform(40 - 25 * strength, 45)) if noisy else None,
        noise_colour=str(rng.choice(["white", "pink", "brown"])),
        gain_db=float(rng.uniform(-12.0, 3.0) * strength),
    )


def change_speed(audio: np.ndarray, phones: tuple[Phone, ...], speed: float) -> tuple[np.ndarray, tuple[Phone, ...]]:
    """Play ``audio`` ``speed`` times faster (resampling) and rescale the phone times to match."""
    if speed == 1.0:
        return audio, phones
    import soxr

    out = soxr.resample(audio.astype(np.float32), SAMPLE_RATE * speed, SAMPLE_RATE, quality="HQ")
    return out.astype(np.float32), tuple(Phone(p.name, p.start / speed, p.end / speed) for p in phones)


def _coloured_noise(rng: np.random.Generator, n: int, colour: str) -> np.ndarray:
    white = rng.standard_normal(n)
    if colour == "white" or n < 2:
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    spec /= f ** (0.5 if colour == "pink" else 1.0)
    noise = np.fft.irfft(spec, n)
    return noise / (noise.std() + 1e-12)


def room_impulse(rng: np.random.Generator, rt60: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Synthetic room impulse response: exponentially decaying noise (-60 dB after ``rt60`` s)."""
    n = max(int(rt60 * sample_rate), 16)
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * 10 ** (-3 * t / rt60)
    ir[0] = 0.0
    return ir / (np.sqrt(np.sum(ir**2)) + 1e-12)


def apply_augmentation(audio: np.ndarray, aug: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Reverb, noise and gain on (N,) float32 audio; the length is unchanged."""
    from scipy.signal import fftconvolve

    x = np.asarray(audio, np.float64)
    if aug.reverb_rt60 > 0 and aug.reverb_wet > 0:
        wet = fftconvolve(x, room_impulse(rng, aug.reverb_rt60))[: x.size]
        wet *= np.sqrt(np.mean(x**2) / (np.mean(wet**2) + 1e-12))
        x = (1 - aug.reverb_wet) * x + aug.reverb_wet * wet
    if aug.noise_snr_db is not None:
        power = np.mean(x**2)
        noise = _coloured_noise(rng, x.size, aug.noise_colour)
        x = x + noise * np.sqrt(power / 10 ** (aug.noise_snr_db / 10))
    x = x * 10 ** (aug.gain_db / 20)
    peak = np.max(np.abs(x)) if x.size else 0.0
    if peak > 0.99:
        x *= 0.99 / peak
    return x.astype(np.float32)
