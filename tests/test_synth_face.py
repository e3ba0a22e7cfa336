"""The ARKit face teacher: lip shapes per phone, closure on bilabials, blinks, brows."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import shared_models_dir

from x3dtalker_core.data.synth.face import FaceStyle, blink_times, face_track, lip_shape_of
from x3dtalker_core.data.synth.tts import Phone
from x3dtalker_core.data.synth.visemes import jaw_track
from x3dtalker_core.flame.arkit import ARKIT_EXPRESSION_NAMES as NAMES


def word(*spec, start=0.3):
    """Phones from (name, seconds) pairs after a 0.3 s pause, then a 0.5 s pause."""
    out, t = [Phone("pau", 0.0, start)], start
    for name, d in spec:
        out.append(Phone(name, t, t + d))
        t += d
    out.append(Phone("pau", t, t + 0.5))
    return out


def at(phones, name, frames):
    p = next(p for p in phones if p.name == name)
    return int((p.start + p.end) / 2 * 25) if frames is None else frames


def track(phones, seed=0):
    t = int(phones[-1].end * 25)
    jaw = jaw_track(phones, t)
    expr, facts = face_track(phones, jaw, t, [], np.random.default_rng(seed), FaceStyle(blink_rate=0.0))
    return jaw, expr, facts


def w(expr, frame, name):
    return expr[frame, NAMES.index(name)]


def test_each_phone_class_gets_its_lip_shape():
    phones = word(("aa", 0.2), ("uw", 0.2), ("iy", 0.2), ("f", 0.12), ("aa", 0.2), ("m", 0.12), ("aa", 0.2))
    jaw, expr, _ = track(phones)
    f = {p.name + str(i): int((p.start + p.end) / 2 * 25) for i, p in enumerate(phones)}
    assert w(expr, f["uw2"], "mouthPucker") > 0.5 > w(expr, f["aa1"], "mouthPucker")
    assert w(expr, f["iy3"], "mouthStretchLeft") > w(expr, f["uw2"], "mouthStretchLeft") + 0.1
    assert w(expr, f["f4"], "mouthRollLower") > 0.4
    assert w(expr, f["m6"], "mouthPressLeft") > 0.35 and w(expr, f["m6"], "mouthClose") > 0.05
    assert w(expr, f["aa5"], "mouthLowerDownLeft") > 0.2 and w(expr, f["aa5"], "mouthClose") < 0.03
    assert expr.min() >= 0 and expr.max() <= 1
    # symmetric shapes are symmetric
    np.testing.assert_array_equal(expr[:, NAMES.index("mouthPressLeft")], expr[:, NAMES.index("mouthPressRight")])


def test_blinks_have_realistic_rate_length_and_favour_pauses():
    rng = np.random.default_rng(1)
    phones, t = [], 0.0
    while t < 120:  # 2 minutes: 2-3 s phrases between 0.4 s pauses
        phrase = rng.uniform(2, 3)
        phones += [Phone("aa", t, t + phrase), Phone("pau", t + phrase, t + phrase + 0.4)]
        t += phrase + 0.4
    blinks = blink_times(phones, t, np.random.default_rng(2), rate_per_min=17.0)
    rate = len(blinks) / (t / 60)
    assert 12 <= rate <= 22
    assert all(0.15 <= d <= 0.25 for _, d in blinks)
    assert min(b - a for (a, _), (b, _) in zip(blinks, blinks[1:])) >= 0.8
    in_pause = np.mean([any(p.name == "pau" and p.start <= o <= p.start + 0.15 for p in phones) for o, _ in blinks])
    pause_share = sum(0.15 for p in phones if p.name == "pau") / t
    assert in_pause > 3 * pause_share  # blinks cluster at phrase boundaries


def test_blink_and_brow_curves_land_on_their_channels():
    phones = word(("aa", 2.0), ("m", 0.1), ("aa", 2.0))
    t = int(phones[-1].end * 25)
    expr, facts = face_track(phones, jaw_track(phones, t), t, [1.0, 3.0], np.random.default_rng(0),
                             FaceStyle(blink_rate=20.0, brow=0.4, brow_share=1.0))
    lid = expr[:, NAMES.index("eyeBlinkLeft")]
    assert facts["blinks"] and lid.max() > 0.8
    np.testing.assert_array_equal(lid, expr[:, NAMES.index("eyeBlinkRight")])
    onset = facts["blinks"][0][0]
    assert lid[int(onset * 25) - 2] < 0.05  # open before the blink
    brow = expr[:, NAMES.index("browInnerUp")]
    assert facts["brow_raises"] == [1.0, 3.0]
    assert brow[int(1.15 * 25)] > 0.2 and brow[int(0.9 * 25)] < 0.02


def test_unknown_phones_are_neutral_and_teacher_is_seeded():
    assert lip_shape_of("zz").name == "neutral" and lip_shape_of("M").name == "closed"
    phones = word(("b", 0.08), ("aa", 0.3))
    t = int(phones[-1].end * 25)
    a = face_track(phones, jaw_track(phones, t), t, [0.4], np.random.default_rng(5))[0]
    b = face_track(phones, jaw_track(phones, t), t, [0.4], np.random.default_rng(5))[0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(shared_models_dir() is None or not (shared_models_dir() / "flame/flame_dev.npz").is_file(),
                    reason="needs the development FLAME head (X3DTALKER_MODELS)")
def test_lips_shut_on_bilabials_and_in_pauses_open_on_vowels_on_the_mesh():
    from x3dtalker_core.eval.lipsync import inner_lip_gap, lipsync_scores
    from x3dtalker_core.flame import load_flame_model, vertices_for_sequence

    model = load_flame_model(shared_models_dir() / "flame/flame_dev.npz")
    phones = word(("aa", 0.15), ("b", 0.06), ("aa", 0.15), ("m", 0.07), ("ae", 0.15), ("p", 0.06), ("ay", 0.2))
    jaw, expr, _ = track(phones)
    params = np.zeros((len(jaw), 284), np.float32)
    params[:, 153] = jaw
    params[:, 100:147] = expr
    gap = inner_lip_gap(vertices_for_sequence(model, params))
    scores = lipsync_scores(gap, phones)
    assert scores["bilabial_closure"] == 1.0 and scores["pauses_closed"] == 1.0
    assert scores["open_bilabial_ratio"] > 5 and scores["gap_opening_r"] > 0.9
    # without the lip channels the jaw alone does not seal these short closures
    params[:, 100:150] = 0
    assert lipsync_scores(inner_lip_gap(vertices_for_sequence(model, params)), phones)["bilabial_closure"] < 1.0
