"""Teacher motion and augmentation of the synthetic corpus (no TTS needed)."""

from __future__ import annotations

import numpy as np
import pytest

from x3dtalker_core.data.synth.augment import (
    Augmentation,
    apply_augmentation,
    change_speed,
)
from x3dtalker_core.data.synth.head import HeadStyle, head_track, prominent_vowels
from x3dtalker_core.data.synth.tts import Phone, espeak_to_arpabet
from x3dtalker_core.data.synth.visemes import PHONE_TO_VISEME, jaw_track, viseme_of


def phones(spec, start=0.0):
    out, t = [], start
    for name, dur in spec:
        out.append(Phone(name, t, t + dur))
        t += dur
    return out


def frame_of(t):
    return int(t * 25)


def test_jaw_classes_and_silence():
    ph = phones([("pau", 0.6), ("aa", 0.2), ("pau", 0.6), ("iy", 0.2), ("pau", 0.6), ("f", 0.2), ("pau", 0.6)])
    jaw = jaw_track(ph, 75)
    assert jaw.dtype == np.float32 and jaw.shape == (75,)
    open_, close, labio = jaw[frame_of(0.7)], jaw[frame_of(1.5)], jaw[frame_of(2.3)]
    assert open_ > close > labio > 0.0
    assert open_ > 0.15
    for t in (0.2, 1.1, 1.9, 2.7):  # middles of silences: mouth shut
        assert jaw[frame_of(t)] < 0.005


def test_bilabial_closes_between_open_vowels():
    ph = phones([("pau", 0.4), ("aa", 0.14), ("b", 0.08), ("aa", 0.14), ("pau", 0.4)])
    jaw = jaw_track(ph, 30)
    closure = jaw[frame_of(0.58)]
    assert closure < 0.35 * jaw[frame_of(0.47)]
    assert closure < 0.04
    assert np.abs(np.diff(jaw)).max() < 0.12  # smooth: coarticulated, no jumps


def test_articulation_scales_speech_not_silence():
    ph = phones([("pau", 0.4), ("ae", 0.3), ("pau", 0.4)])
    a, b = jaw_track(ph, 28, articulation=1.0), jaw_track(ph, 28, articulation=1.3)
    assert b.max() == pytest.approx(1.3 * a.max(), rel=0.02)
    assert b[:3].max() < 1e-3


def test_every_mapped_phone_has_a_class():
    for name in PHONE_TO_VISEME:
        viseme_of(name)
    assert espeak_to_arpabet("tS") == "ch" and espeak_to_arpabet("aI@") == "ay" and espeak_to_arpabet("_:") == "pau"
    assert espeak_to_arpabet("@2") == "ax"


def test_head_nods_on_prominent_vowels_and_is_seeded():
    rng_audio = np.random.default_rng(0)
    ph = phones([("pau", 0.5), ("aa", 0.3), ("t", 0.1), ("ax", 0.08), ("pau", 0.8), ("ae", 0.3), ("pau", 0.5)])
    audio = np.zeros(int(2.6 * 16000), np.float32)
    for p, gain in zip(ph, (0, 1.0, 0.2, 0.05, 0, 0.8, 0)):
        s, e = int(p.start * 16000), int(p.end * 16000)
        audio[s:e] = gain * rng_audio.standard_normal(e - s) * 0.3
    nods = prominent_vowels(ph, audio)
    assert [round(t, 2) for t, _ in nods] == [0.5, 1.78]
    style = HeadStyle(nod=0.05, drift=0.0, sway=0.0)
    head, onsets = head_track(ph, audio, 65, np.random.default_rng(1), style)
    assert head.shape == (65, 3) and onsets == [t for t, _ in nods]
    peak = int(np.argmax(head[:, 0]))
    assert abs(peak / 25 - (0.5 + 0.12)) < 0.08 or abs(peak / 25 - (1.78 + 0.12)) < 0.08
    again, _ = head_track(ph, audio, 65, np.random.default_rng(1), HeadStyle())
    third, _ = head_track(ph, audio, 65, np.random.default_rng(1), HeadStyle())
    np.testing.assert_array_equal(again, third)


def test_speed_and_augmentation():
    audio = np.sin(np.arange(16000) * 0.05).astype(np.float32) * 0.5
    ph = (Phone("aa", 0.0, 0.5), Phone("pau", 0.5, 1.0))
    fast, fast_ph = change_speed(audio, ph, 1.25)
    assert abs(fast.size - 12800) <= 2
    assert fast_ph[1].start == pytest.approx(0.4)
    aug = Augmentation(noise_snr_db=20.0, noise_colour="pink", gain_db=-6.0)
    out = apply_augmentation(audio, aug, np.random.default_rng(0))
    assert out.shape == audio.shape and out.dtype == np.float32
    # noise at 20 dB SNR adds 1 % power; the gain scales the amplitude by 10^(-6/20)
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(audio**2) * 1.01) * 10 ** (-6 / 20), rel=0.02)
    residual = out / 10 ** (-6 / 20) - audio
    assert 10 * np.log10(np.mean(audio**2) / np.mean(residual**2)) == pytest.approx(20.0, abs=0.5)
    wet = apply_augmentation(audio, Augmentation(reverb_rt60=0.3, reverb_wet=0.3), np.random.default_rng(0))
    assert wet.shape == audio.shape and not np.allclose(wet, audio)
    assert np.max(np.abs(apply_augmentation(audio, Augmentation(gain_db=20.0), np.random.default_rng(0)))) <= 0.99
