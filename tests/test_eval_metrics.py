"""Metrics against values computed by hand on a tiny fixture (both the spec and the authors' definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from x3dtalker_core.errors import X3DError
from x3dtalker_core.eval import metrics as M

MASKS = {"lips": np.array([0, 1]), "eye_region": np.array([1, 2]), "forehead": np.array([2]), "nose": np.array([3])}


@pytest.fixture
def pair():
    """Ground truth at rest; prediction displaced by whole millimetres (values in metres)."""
    gt = np.zeros((2, 4, 3))
    pred = np.zeros((2, 4, 3))
    pred[0, 0] = (0.003, 0, 0)   # 3 mm
    pred[0, 1] = (0, 0.004, 0)   # 4 mm
    pred[0, 3] = (0.001, 0, 0)   # 1 mm
    pred[1, 0] = (0, 0, 0.002)   # 2 mm
    pred[1, 2] = (0, 0.002, 0)   # 2 mm
    return pred, gt


def test_lve(pair):
    pred, gt = pair
    assert M.lve(pred, gt, MASKS["lips"], "spec") == pytest.approx(3.0)  # max 4 mm, max 2 mm -> mean 3
    assert M.lve(pred, gt, MASKS["lips"], "authors") == pytest.approx((16e-6 + 4e-6) / 2)  # squared, m^2


def test_mve(pair):
    pred, gt = pair
    assert M.mve(pred, gt, "spec") == pytest.approx(12 / 8)  # (3+4+0+1 + 2+0+2+0) / 8 mm
    assert M.mve(pred, gt, "authors") == pytest.approx(0.0015)


def test_ufve_dedup_vs_concat(pair):
    pred, gt = pair
    up_spec = M.upper_face_indices(MASKS, "spec")
    up_auth = M.upper_face_indices(MASKS, "authors")
    assert up_spec.tolist() == [1, 2, 3]
    assert up_auth.tolist() == [1, 2, 2, 3]  # eye_region + forehead + nose, duplicates kept
    assert M.ufve(pred, gt, up_spec, "spec") == pytest.approx(7 / 6)  # (4+0+1 + 0+2+0) / 6 mm
    assert M.ufve(pred, gt, up_auth, "authors") == pytest.approx(9 / 8 / 1000)  # (4+0+0+1 + 0+2+2+0) / 8


def test_ufdd(pair):
    pred, gt = pair
    ref = np.zeros((4, 3))
    # spec: temporal std of |displacement| per upper vertex: v1 [4,0] -> 2, v2 [0,2] -> 1, v3 [1,0] -> 0.5
    assert M.ufdd(pred, gt, ref, ref, M.upper_face_indices(MASKS, "spec"), "spec") == pytest.approx(3.5 / 3)
    # authors: signed x+y+z, non-upper zeroed, std over all 4 vertices per frame, mean over frames.
    # frame 0: [0, .004, 0, .001] -> var 2.6875e-6; frame 1: [0, 0, .002, 0] -> var 0.75e-6
    expected = (np.sqrt(2.6875e-6) + np.sqrt(0.75e-6)) / 2
    assert M.ufdd(pred, gt, ref, ref, M.upper_face_indices(MASKS, "authors"), "authors") == pytest.approx(expected)


def test_truncates_to_shorter_and_checks_shapes(pair):
    pred, gt = pair
    assert M.mve(pred[:1], gt, "spec") == pytest.approx(8 / 4)
    with pytest.raises(X3DError):
        M.mve(pred[:, :3], gt)
    with pytest.raises(X3DError):
        M.lve(pred, gt, MASKS["lips"], "paper")


def test_beat_alignment_hand_computed():
    speed = np.abs(np.arange(40) - 20.0)  # V-shaped head speed: one motion beat at frame 20
    pose = np.zeros((41, 3))
    pose[1:, 0] = np.cumsum(speed)
    assert M.motion_beats(pose).tolist() == [20]
    score = M.beat_alignment(pose, np.array([20, 23, 30, 45]))  # 45 >= T - 1 is dropped
    expected = (1.0 + np.exp(-9 / 14) + np.exp(-100 / 14)) / 3
    assert score == pytest.approx(expected)
    assert M.beat_alignment(pose, np.array([], int)) == 0.0
    assert M.beat_alignment(np.zeros((41, 3)), np.array([5])) == 0.0  # no motion beat: 0, not a crash


def test_pearson_and_silence():
    a = np.array([0.0, 1, 2, 3, 4])
    assert M.pearson_r(a, 2 * a + 1) == pytest.approx(1.0)
    assert M.pearson_r(a, -a) == pytest.approx(-1.0)
    assert M.pearson_r(a, np.ones(5)) is None
    amp = np.r_[np.ones(10), np.zeros(10), np.ones(10)]
    quiet = M.silent_frames(amp)
    assert np.flatnonzero(quiet).tolist() == list(range(12, 18))  # 2-frame margins trimmed
    jaw = np.zeros(30)
    jaw[15:18] = 0.1
    assert M.closed_mouth_share(jaw, amp) == pytest.approx(0.5)
    assert M.closed_mouth_share(jaw, np.ones(30)) is None


def test_speech_beats_at_onsets():
    amp = np.full(60, 0.01)
    for onset in (10, 30, 45):
        amp[onset:onset + 6] = 1.0
    beats = M.speech_beats(amp)
    assert len(beats) == 3
    assert np.all(np.abs(beats - np.array([10, 30, 45])) <= 1)
