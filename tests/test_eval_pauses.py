"""Joining real clips into a reading with pauses (eval --pause-gaps): tiny hand-made clips, and the LibriVox reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from x3dtalker_core.data.synth.tts import Phone
from x3dtalker_core.errors import X3DError
from x3dtalker_core.eval.lipsync import MIN_PAUSE_S, lipsync_scores
from x3dtalker_core.eval.pauses import AlignedClip, join_with_pauses, pause_gaps, room_tone

SR = 16000


def clip(name: str, lead: float, speech: float, trail: float, seed: int) -> AlignedClip:
    """Quiet noise (room tone) around a loud tone (speech), phones pau / aa / pau."""
    rng = np.random.default_rng(seed)
    n = int(round((lead + speech + trail) * SR))
    audio = (rng.normal(0, 1e-3, n)).astype(np.float32)
    a, b = int(lead * SR), int((lead + speech) * SR)
    audio[a:b] += 0.3 * np.sin(2 * np.pi * 220 * np.arange(b - a) / SR).astype(np.float32)
    phones = (Phone("pau", 0.0, lead), Phone("aa", lead, lead + speech), Phone("pau", lead + speech, n / SR))
    return AlignedClip(name, audio, phones)


def test_pauses_last_the_gap_and_hold_only_recorded_silence():
    clips = [clip("a", 0.2, 1.0, 0.25, 0), clip("b", 0.22, 0.8, 0.2, 1), clip("c", 0.25, 1.2, 0.2, 2)]
    joined = join_with_pauses(clips, [0.8, 0.3])
    names = [p.name for p in joined.phones]
    assert names == ["pau", "aa", "pau", "aa", "pau", "aa", "pau"]
    pauses = [p.end - p.start for p in joined.phones[2:5:2]]
    # 0.8 s asked: room tone fills it up; 0.3 s asked but 0.2 + 0.25 s of edge silence: kept as recorded
    assert pauses[0] == pytest.approx(0.8, abs=1e-3) and pauses[1] == pytest.approx(0.45, abs=1e-3)
    assert joined.duration == pytest.approx(sum(c.duration for c in clips) + 0.8 - 0.47, abs=1e-3)
    # every speech sample is the clip's own, shifted by its offset
    second = joined.phones[3]
    s0 = int(round(second.start * SR))
    np.testing.assert_array_equal(joined.audio[s0:s0 + 100], clips[1].audio[int(0.22 * SR):int(0.22 * SR) + 100])
    # the pause is as quiet as the recordings' silence (no synthesised sound, no clicks at the splices)
    p = joined.phones[2]
    pause_audio = joined.audio[int(p.start * SR):int(p.end * SR)]
    assert np.abs(pause_audio).max() < 0.01 and 0.5e-3 < pause_audio.std() < 2e-3


def test_joined_reading_has_measurable_pauses():
    clips = [clip("a", 0.2, 1.0, 0.25, 0), clip("b", 0.22, 0.8, 0.2, 1)]
    single = [p for p in clips[0].phones if p.name == "pau" and p.end - p.start >= MIN_PAUSE_S]
    assert not single  # the single clips hold no measurable pause
    joined = join_with_pauses(clips, [0.6])
    frames = int(round(joined.duration * 25))
    gap = np.full(frames, 10.0)
    t = (np.arange(frames) + 0.5) / 25
    for p in joined.phones:
        if p.name == "pau":
            gap[(t >= p.start) & (t < p.end)] = 1.0
    scores = lipsync_scores(gap, joined.phones)
    assert scores["n_pauses"] == 1 and scores["pauses_closed"] == 1.0


def test_room_tone_and_gap_checks():
    with pytest.raises(X3DError, match="gaps"):
        join_with_pauses([clip("a", 0.2, 1.0, 0.2, 0), clip("b", 0.2, 1.0, 0.2, 1)], [])
    with pytest.raises(X3DError, match="silence"):
        room_tone([clip("a", 0.03, 1.0, 0.03, 0)])
    gaps = pause_gaps(4, 0.4, 1.0, seed=3)
    assert gaps == pause_gaps(4, 0.4, 1.0, seed=3) and all(0.4 <= g <= 1.0 for g in gaps)
    with pytest.raises(X3DError):
        pause_gaps(2, 0.0, 1.0)


LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


@pytest.mark.skipif(not (LIBRIVOX / "transcription").is_file(), reason="apt-get install pocketsphinx-testdata")
def test_librivox_reading_gets_its_pauses():
    """The five consecutive LibriVox sentences joined as eval --pause-gaps 0.4 1.0 does: four pauses to measure."""
    pytest.importorskip("pocketsphinx")
    from x3dtalker_core.eval.cli import joined_reading, real_speech_items

    items = real_speech_items(LIBRIVOX)
    joined = joined_reading(items, (0.4, 1.0), seed=0)
    pauses = [p for p in joined.phones if p.name == "pau" and p.end - p.start >= MIN_PAUSE_S]
    assert len(pauses) == len(items) - 1
    asked = pause_gaps(len(items) - 1, 0.4, 1.0, seed=0)
    for p, g in zip(pauses, asked):
        assert max(g, 0.4) - 0.02 <= p.end - p.start <= max(g, 0.6) + 0.02
    speech = [p for p in joined.phones if p.name != "pau"]
    assert speech[0].start < 0.5 and joined.duration > 24.0
