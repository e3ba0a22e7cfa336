"""Teacher head motion from prosody: nods on prominent syllables, slow drift, energy-driven sway.

Three seeded components, summed as FLAME global head rotation (axis-angle, radians; x = pitch with
positive = nod down, y = yaw, z = roll):

* **nods**: every prominent vowel (a local peak of loudness x duration, at least ``min_gap`` apart)
  triggers a smooth down-and-back pulse on x that peaks ~120 ms after the vowel starts, with a
  smaller companion on y/z; its size grows with the vowel's prominence.
* **drift**: low-pass filtered noise (< ~0.3 Hz) on all three axes, a talker's slow posture changes.
* **sway**: faster (~1 Hz) filtered noise whose amplitude follows the speech energy, so the head is
  livelier while speaking and calmer in pauses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import FPS, SAMPLE_RATE
from .tts import Phone
from .visemes import PHONE_TO_VISEME

VOWEL_CLASSES = ("close_vowel", "mid_vowel", "open_vowel")


@dataclass(frozen=True)
class HeadStyle:
    """Per-clip head-motion style (all angles in radians).

    Attributes:
        nod: peak pitch of a nod on the most prominent syllable.
        drift: standard deviation of the slow drift.
        sway: standard deviation of the energy-driven sway while speaking.
        min_gap: minimum time between nods (s).
    """

    nod: float = 0.045
    drift: float = 0.04
    sway: float = 0.012
    min_gap: float = 0.45


def frame_energy(audio: np.ndarray, num_frames: int, samples_per_frame: int = SAMPLE_RATE // FPS) -> np.ndarray:
    """(T,) RMS energy per frame of a 16 kHz waveform (zero-padded to T frames)."""
    x = np.zeros(num_frames * samples_per_frame, np.float32)
    n = min(x.size, audio.size)
    x[:n] = audio[:n]
    return np.sqrt((x.reshape(num_frames, samples_per_frame) ** 2).mean(axis=1))


def prominent_vowels(phones: tuple[Phone, ...] | list[Phone], audio: np.ndarray, min_gap: float = 0.45,
                     ) -> list[tuple[float, float]]:
    """Prominent syllable nuclei: (vowel start time s, prominence in [0, 1]).

    Prominence = RMS loudness (dB above the clip's quietest vowel) x duration, normalised by the
    clip's maximum; peaks are kept greedily from the strongest, at least ``min_gap`` seconds apart,
    and only above a third of the maximum (unstressed vowels do not nod).
    """
    vowels = [p for p in phones if PHONE_TO_VISEME.get(p.name) in VOWEL_CLASSES and p.end > p.start]
    if not vowels:
        return []
    loud = []
    for p in vowels:
        seg = audio[int(p.start * SAMPLE_RATE): max(int(p.end * SAMPLE_RATE), int(p.start * SAMPLE_RATE) + 1)]
        loud.append(20 * np.log10(np.sqrt(np.mean(seg.astype(np.float64) ** 2)) + 1e-5))
    loud = np.array(loud)
    score = (loud - loud.min() + 3.0) * np.array([p.end - p.start for p in vowels])
    score = score / score.max()
    chosen: list[tuple[float, float]] = []
    for i in np.argsort(-score):
        if score[i] < 0.33:
            break
        if all(abs(vowels[i].start - t) >= min_gap for t, _ in chosen):
            chosen.append((vowels[i].start, float(score[i])))
    return sorted(chosen)


def _lowpass_noise(rng: np.random.Generator, num_frames: int, cutoff_hz: float, fps: float) -> np.ndarray:
    """(T, 3) unit-std noise low-passed with a Gaussian kernel of the given cutoff."""
    sigma = fps / (2 * np.pi * cutoff_hz)  # frames
    pad = int(4 * sigma) + 1
    white = rng.standard_normal((num_frames + 2 * pad, 3))
    k = np.exp(-0.5 * (np.arange(-pad, pad + 1) / sigma) ** 2)
    out = np.stack([np.convolve(white[:, a], k / k.sum(), mode="valid") for a in range(3)], axis=1)
    return (out / (out.std(axis=0, keepdims=True) + 1e-9))[:num_frames]


def nod_pulse(t: np.ndarray, onset: float, peak_delay: float = 0.12) -> np.ndarray:
    """Smooth unit pulse ``x * exp(1 - x)``, x = (t - onset) / peak_delay: 0 before ``onset``, 1 at the peak."""
    x = np.clip((t - onset) / peak_delay, 0.0, None)
    return x * np.exp(1.0 - x)


def head_track(
    phones: tuple[Phone, ...] | list[Phone],
    audio: np.ndarray,
    num_frames: int,
    rng: np.random.Generator,
    style: HeadStyle = HeadStyle(),
    fps: float = FPS,
) -> tuple[np.ndarray, list[float]]:
    """Head rotation per frame from the clip's prosody.

    Args:
        phones: phone timings (s) of ``audio``.
        audio: (N,) 16 kHz clean speech (before augmentation).
        num_frames: T.
        rng: seeded generator (the only source of randomness).
        style: amplitudes.
    Returns:
        ((T, 3) float32 axis-angle head rotation, nod onset times in seconds).
    """
    t = (np.arange(num_frames) + 0.5) / fps
    nods = prominent_vowels(phones, audio, style.min_gap)
    head = np.zeros((num_frames, 3))
    for onset, prominence in nods:
        pulse = nod_pulse(t, onset)
        direction = np.array([1.0, rng.uniform(-0.35, 0.35), rng.uniform(-0.2, 0.2)])
        head += style.nod * (0.5 + 0.5 * prominence) * rng.uniform(0.7, 1.2) * pulse[:, None] * direction
    # Slow drift: yaw wanders most, roll least.
    head += style.drift * _lowpass_noise(rng, num_frames, 0.25, fps) * np.array([0.6, 1.0, 0.4])
    energy = frame_energy(audio, num_frames)
    speaking = energy / (np.percentile(energy, 95) + 1e-9)
    gate = np.convolve(np.clip(speaking, 0, 1), np.ones(7) / 7, mode="same")
    head += style.sway * _lowpass_noise(rng, num_frames, 1.0, fps) * gate[:, None]
    return head.astype(np.float32), [onset for onset, _ in nods]

