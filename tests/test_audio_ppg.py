"""The ``ppg`` encoder: hama phoneme posteriors on the 25 fps grid, lag compensation, windows, checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from x3dtalker_core.audio.encoders import ppg as ppg_mod
from x3dtalker_core.errors import X3DError

pytestmark = pytest.mark.skipif(ppg_mod.ppg_unavailable() is not None, reason=str(ppg_mod.ppg_unavailable()))
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SR = 16000


def babble(seconds: float, seed: int = 0) -> np.ndarray:
    """Speech-like test signal: voiced harmonics with syllable-rate loudness and formant-like changes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k * (1 + np.sin(2 * np.pi * (0.9 + 0.3 * k) * t + k)) for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (0.1 * x * envelope + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def encoder():
    return ppg_mod.PPGEncoder()


@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.37])
def test_log_posteriors_on_the_frame_grid(encoder, seconds):
    x = babble(seconds)
    feats = encoder.encode(x)
    assert feats.shape == (round(x.size / 640), 191) and feats.dtype == np.float32
    probs = np.exp(feats)
    assert np.all(feats <= 1e-5) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    assert encoder.describe()["name"] == "ppg" and not encoder.paper


def test_lag_shifts_frames_exactly(encoder):
    x = babble(3.0, seed=1)
    plain = ppg_mod.PPGEncoder(lag_seconds=0.0).encode(x)
    late = ppg_mod.PPGEncoder(lag_seconds=0.08).encode(x)  # 80 ms = 2 frames
    np.testing.assert_allclose(late[:-3], plain[2:-1], atol=1e-5)
    assert ppg_mod.PPGEncoder(lag_seconds=0.0).identity != encoder.identity


def test_windows_bound_the_input_and_agree_with_one_shot():
    x = babble(9.0, seed=2)
    whole = ppg_mod.PPGEncoder(window_seconds=20.0).encode(x)
    windowed_enc = ppg_mod.PPGEncoder(window_seconds=4.0, overlap_seconds=2.0)
    seen = []
    original = windowed_enc.log_posteriors
    windowed_enc.log_posteriors = lambda seg: (seen.append(seg.size), original(seg))[1]
    steps = []
    windowed = windowed_enc.encode(x, progress=lambda done, total: steps.append((done, total)))
    assert max(seen) <= 4 * SR and len(seen) == windowed_enc.num_steps(len(whole)) > 2
    assert steps[-1] == (len(seen), len(seen))
    # each frame keeps >= 1 s of context on both sides: the same phone wins, posteriors move little
    assert (windowed.argmax(axis=1) == whole.argmax(axis=1)).mean() > 0.95
    assert np.median(np.abs(np.exp(windowed) - np.exp(whole)).max(axis=1)) < 0.08


def test_weight_file_checksum_is_enforced(monkeypatch):
    monkeypatch.setattr(ppg_mod, "WEIGHT_SHA256", "0" * 64)
    with pytest.raises(X3DError, match="sha256.*pip install hama==1.7.0"):
        ppg_mod.PPGEncoder()


def test_fallback_to_mel_where_hama_cannot_load(monkeypatch, caplog):
    from x3dtalker_core.audio import encoders

    reason = "hama ships no native library for this platform (e.g. Windows), so the 'ppg' encoder cannot run here"
    monkeypatch.setattr(ppg_mod, "ppg_unavailable", lambda: reason)
    monkeypatch.setattr(encoders, "ppg_unavailable", lambda: reason)
    assert encoders.offline_linguistic_encoder() == "mel"
    assert "falling back" in caplog.text
    with pytest.raises(X3DError, match="no native library.*use one trained on 'mel' features.*LINGUISTIC=mel"):
        encoders.load_encoder("ppg", "linguistic")
    monkeypatch.undo()
    assert encoders.offline_linguistic_encoder() == "ppg"


@pytest.mark.skipif(not (LIBRIVOX / "transcription").is_file(), reason="apt-get install pocketsphinx-testdata")
def test_bilabials_are_heard_where_the_aligner_puts_them(encoder):
    """On real read speech, frames of aligned p/b/m phones carry the recogniser's p/b/m classes."""
    pytest.importorskip("pocketsphinx")
    from x3dtalker_core.audio import load_audio
    from x3dtalker_core.eval.align import forced_align, read_transcriptions

    wav = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
    audio = load_audio(wav)
    phones = forced_align(audio, read_transcriptions(LIBRIVOX / "transcription")[wav.stem])
    probs = np.exp(encoder.encode(audio))
    ids = [encoder.class_names.index(c) for c in ("p", "b", "m")]
    hits = []
    for p in phones:
        if p.name in ("p", "b", "m"):
            f0, f1 = int(p.start * 25), max(int(p.end * 25), int(p.start * 25) + 1)
            hits.append(probs[max(f0 - 1, 0) : f1 + 1, ids].sum(axis=1).max() > 0.3)
    assert len(hits) >= 5 and np.mean(hits) >= 0.7
