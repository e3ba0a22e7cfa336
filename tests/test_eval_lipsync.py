"""Lip-sync measures on a hand-made gap curve and phone list (tiny fixture, no model)."""

from __future__ import annotations

import numpy as np

from x3dtalker_core.data.synth.tts import Phone
from x3dtalker_core.eval.align import normalize_transcript, read_transcriptions
from x3dtalker_core.eval.lipsync import INNER_LIP_PAIRS, inner_lip_gap, lipsync_scores

PHONES = [Phone("pau", 0.0, 0.4), Phone("m", 0.4, 0.48), Phone("aa", 0.48, 0.72), Phone("b", 0.72, 0.8),
          Phone("ae", 0.8, 1.04), Phone("pau", 1.04, 1.6)]


def gap_curve(closed_mm: float, open_mm: float, pause_mm: float) -> np.ndarray:
    t = (np.arange(40) + 0.5) / 25
    g = np.full(40, pause_mm)
    for p in PHONES:
        sel = (t >= p.start) & (t < p.end)
        g[sel] = {"m": closed_mm, "b": closed_mm, "aa": open_mm, "ae": open_mm}.get(p.name, pause_mm)
    return g


def test_good_lips_score_well_and_bad_lips_fail():
    good = lipsync_scores(gap_curve(1.0, 20.0, 1.0), PHONES)
    assert good["bilabial_closure"] == 1.0 and good["pauses_closed"] == 1.0 and good["n_pauses"] == 2
    assert good["open_bilabial_ratio"] == 20.0 and good["gap_opening_r"] > 0.75
    bad = lipsync_scores(gap_curve(8.0, 12.0, 6.0), PHONES)
    assert bad["bilabial_closure"] == 0.0 and bad["pauses_closed"] == 0.0 and bad["open_bilabial_ratio"] == 1.5


def test_inner_lip_gap_is_the_mean_pair_distance_in_mm():
    v = np.zeros((2, 5023, 3))
    for up, lo in INNER_LIP_PAIRS:
        v[1, up, 1], v[1, lo, 1] = 0.004, -0.001
    np.testing.assert_allclose(inner_lip_gap(v), [0.0, 5.0])


def test_transcripts_are_read_and_normalised(tmp_path):
    f = tmp_path / "transcription"
    f.write_text("<s> He was NOT, an ill man </s> (utt_1)\nutt2 hello there\n")
    texts = read_transcriptions(f)
    assert texts == {"utt_1": "<s> He was NOT, an ill man </s>", "utt2": "hello there"}
    assert normalize_transcript(texts["utt_1"]) == "he was not an ill man"
