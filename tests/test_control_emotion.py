"""Emotion templates (FACS fit on the dev head, dataset means), intensities, keyframes, CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from x3dtalker_core.cli import main
from x3dtalker_core.control.emotion import (
    EASING_MAX_SLOPE,
    EMOTIONS,
    INTENSITY_LEVELS,
    EmotionControl,
    EmotionTemplates,
    apply_emotion,
    blend_expression,
    parse_keyframes,
    template_similarity,
)
from x3dtalker_core.control.mead import derive_mean_templates, emotion_label
from x3dtalker_core.errors import X3DError
from x3dtalker_core.params import FlameSequence

RNG = np.random.default_rng(0)
TEMPLATES = EmotionTemplates({e: RNG.normal(0, 1, 50) for e in EMOTIONS}, {"method": "test"})


@pytest.fixture(scope="module")
def flame():
    from x3dtalker_core.assets import try_find_asset

    if try_find_asset("flame_model") is None or try_find_asset("landmark_embedding") is None:
        pytest.skip("FLAME model / landmark embedding not found (set X3DTALKER_MODELS)")
    from x3dtalker_core.flame import load_flame_model, load_masks

    return load_flame_model(n_exp=50), load_masks()


@pytest.fixture(scope="module")
def au_templates(flame):
    from x3dtalker_core.control.facs import derive_au_templates

    return derive_au_templates(flame[0], masks=flame[1], cache=False)


def landmark_moves(model, templates, name, intensity=1.0):
    """(68, 3) mm landmark displacement of the neutral head under ``name`` applied to a zero reference."""
    control = EmotionControl.constant(name, intensity, templates)
    exp = apply_emotion(np.zeros(50), control, 1)
    with torch.no_grad():
        v = model(expression=torch.tensor(np.stack([np.zeros(50), exp[0]]), dtype=torch.float32))
        lmk = model.landmarks68(v).numpy() * 1000
    return lmk[1] - lmk[0]


def test_facs_templates_on_dev_head(flame, au_templates):
    model, _ = flame
    assert set(EMOTIONS) <= set(au_templates.vectors)
    happy = landmark_moves(model, au_templates, "happy")
    assert happy[48, 1] >= 2.0 and happy[54, 1] >= 2.0  # both mouth corners up >= 2 mm (at 0.75 blend)
    surprise = landmark_moves(model, au_templates, "surprise")
    assert surprise[17:27, 1].mean() >= 2.0 and surprise[17:27, 1].min() > 1.0  # brows up
    sad = landmark_moves(model, au_templates, "sad")
    assert sad[48, 1] < -1.0 and sad[54, 1] < -1.0  # mouth corners down
    angry = landmark_moves(model, au_templates, "angry")
    assert angry[19:25, 1].mean() < -1.0  # brows lowered
    contempt = landmark_moves(model, au_templates, "contempt")
    assert contempt[48, 1] > 1.0 and abs(contempt[54, 1]) < 0.5  # one-sided (subject's right, x < 0)
    neutral = landmark_moves(model, au_templates, "neutral", 0.0)
    assert np.abs(neutral).max() == 0.0
    for e in EMOTIONS:
        assert au_templates.metadata["fit"][e]["max_vertex_move_mm"] < 12.0


def test_facs_fit_is_deterministic_and_cached(flame, au_templates, tmp_path, monkeypatch):
    from x3dtalker_core.control.facs import derive_au_templates

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    again = derive_au_templates(flame[0], masks=flame[1], cache=True)
    for e in EMOTIONS:
        np.testing.assert_array_equal(again.get(e), au_templates.get(e))
    cached = list((tmp_path / "x3dtalker" / "emotion_templates").glob("*.npz"))
    assert len(cached) == 1
    third = derive_au_templates(flame[0], masks=flame[1], cache=True)
    assert third.metadata["flame_model_sha256"] == flame[0].sha256
    np.testing.assert_array_equal(third.get("happy"), au_templates.get("happy"))


def test_blend_formula():
    ref = RNG.normal(0, 1, 50)
    tpl = TEMPLATES.get("happy")
    np.testing.assert_allclose(blend_expression(ref, tpl, 0.0), ref)  # identity at 0
    for lam in (1.0, 1.5, 2.0):  # the authors' form from 1 up
        np.testing.assert_allclose(blend_expression(ref, tpl, lam), 0.75 * lam * tpl + 0.25 * ref, atol=1e-6)
    np.testing.assert_allclose(blend_expression(ref, tpl, 0.5), ref + 0.5 * 0.75 * (tpl - ref))
    a, b = blend_expression(ref, tpl, 1.0 - 1e-9), blend_expression(ref, tpl, 1.0 + 1e-9)
    np.testing.assert_allclose(a, b, atol=1e-7)  # continuous at 1
    assert len(INTENSITY_LEVELS) == 6
    out = apply_emotion(ref, EmotionControl.constant("neutral", 0, TEMPLATES), 10)
    np.testing.assert_allclose(out, np.broadcast_to(ref, (10, 50)), atol=1e-6)


def test_keyframe_parsing_and_errors():
    keys = parse_keyframes("0:neutral:0, 2.5s:Happy:1.5; 5:sad:strong\n7:surprised")
    assert [(k.time, k.emotion, k.intensity) for k in keys] == [
        (0.0, "neutral", 0.0), (2.5, "happy", 1.5), (5.0, "sad", 1.3), (7.0, "surprise", 1.0)]
    with pytest.raises(X3DError, match="increasing time order"):
        EmotionControl.from_text("0:happy, 3:sad, 2:angry", TEMPLATES)
    with pytest.raises(X3DError, match="unknown emotion 'bored'"):
        EmotionControl.from_text("0:happy, 3:bored", TEMPLATES)
    with pytest.raises(X3DError, match="not a time"):
        parse_keyframes("soon:happy")
    with pytest.raises(X3DError, match="intensity"):
        parse_keyframes("0:happy:very")
    with pytest.raises(X3DError, match="time:emotion"):
        parse_keyframes("0:happy:1:2")
    with pytest.raises(X3DError, match=">= 0"):
        EmotionControl.from_text("-1:happy", TEMPLATES)
    with pytest.raises(X3DError, match="transition"):
        EmotionControl.from_text("0:happy", TEMPLATES, transition_s=0.05)


@pytest.mark.parametrize("transition", [0.2, 0.8, 2.0])
def test_keyframe_transitions_are_eased_and_bounded(transition):
    ref = RNG.normal(0, 0.5, 50)
    control = EmotionControl.from_text("0:neutral:0, 1:happy:1.5, 1.3:sad:2, 3:fear:subtle, 5:neutral", TEMPLATES,
                                       transition_s=transition)
    fps, n = 25, 175
    out = apply_emotion(ref, control, n, fps).astype(np.float64)
    steps = np.linalg.norm(np.diff(out, axis=0), axis=1)
    # Bound: the largest distance any transition has to cover, times the easing's max slope per frame.
    targets = [ref] + [blend_expression(ref, TEMPLATES.get(k.emotion), k.intensity) for k in control.keyframes]
    spans = [np.linalg.norm(a - b) for a in targets for b in targets]
    bound = EASING_MAX_SLOPE * max(spans) / (transition * fps)
    assert steps.max() <= bound + 1e-5
    np.testing.assert_allclose(out[:25], np.broadcast_to(ref, (25, 50)), atol=1e-6)  # neutral:0 first second
    t_end = int(4.9 * fps)
    fear = blend_expression(ref, TEMPLATES.get("fear"), INTENSITY_LEVELS["subtle"])
    if transition <= 0.8:  # fully arrived before the next keyframe
        np.testing.assert_allclose(out[t_end], fear, atol=1e-5)
    assert np.all(np.isfinite(out))


def test_constant_emotion_at_time_zero_applies_immediately():
    ref = np.zeros(50)
    out = apply_emotion(ref, EmotionControl.constant("happy", 1.0, TEMPLATES), 5)
    np.testing.assert_allclose(out[0], 0.75 * TEMPLATES.get("happy"), atol=1e-6)
    per_frame = RNG.normal(0, 1, (5, 50))
    out2 = apply_emotion(per_frame, EmotionControl.constant("happy", 1.0, TEMPLATES), 5)
    np.testing.assert_allclose(out2, 0.75 * TEMPLATES.get("happy") + 0.25 * per_frame, atol=1e-5)


def test_template_io_and_similarity(tmp_path):
    for suffix in (".npz", ".json"):
        path = TEMPLATES.with_template("smirk", np.ones(50)).save(tmp_path / f"t{suffix}")
        back = EmotionTemplates.load(path)
        assert "smirk" in back.names and back.metadata["method"] == "test"
        np.testing.assert_allclose(back.get("angry"), TEMPLATES.get("angry"), atol=1e-6)
    with pytest.raises(X3DError, match="50 values"):
        EmotionTemplates({"x": np.ones(3)})
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(X3DError):
        EmotionTemplates.load(tmp_path / "bad.json")
    produced = {e: apply_emotion(np.zeros(50), EmotionControl.constant(e, 1.0, TEMPLATES), 4) for e in EMOTIONS}
    sims = template_similarity(TEMPLATES, produced)
    assert all(abs(v - 1.0) < 1e-6 for v in sims.values())
    produced["happy"] = -produced["happy"]
    assert template_similarity(TEMPLATES, produced)["happy"] == pytest.approx(-1.0)


def write_clip(folder, exp: np.ndarray) -> None:
    from x3dtalker_core.data.layout import write_sequence_dir

    t = exp.shape[0]
    seq = FlameSequence.from_groups(np.zeros((t, 100)), exp, np.zeros((t, 6)))
    write_sequence_dir(folder, seq)


def test_derive_templates_from_dataset(tmp_path, capsys):
    root = tmp_path / "mead"
    angry = [RNG.normal(1, 0.1, (5, 50)), RNG.normal(1, 0.1, (7, 50))]
    write_clip(root / "M003" / "V2-M003-angry-00001", angry[0])
    write_clip(root / "M005" / "V2-M005-angry-00002", angry[1])
    surprised = RNG.normal(-2, 0.1, (4, 50))
    write_clip(root / "M003" / "V2-M003-surprised-00003", surprised)
    write_clip(root / "M003" / "V2-M003-neutral-00004", np.zeros((3, 50)))
    write_clip(root / "other" / "clip_000", np.ones((3, 50)))
    tpl = derive_mean_templates(root, progress=False)
    np.testing.assert_allclose(tpl.get("angry"), np.concatenate(angry).mean(0), atol=1e-6)  # over all frames
    np.testing.assert_allclose(tpl.get("surprise"), surprised.mean(0), atol=1e-6)
    assert tpl.metadata["frames"]["angry"] == 12 and tpl.metadata["unlabelled_sequences"] == 1
    assert emotion_label("V2-W011-disgusted-00012") == "disgust" and emotion_label("clip_0001") is None
    with pytest.raises(X3DError, match="several emotions"):
        emotion_label("happy-sad-001")
    out = tmp_path / "t.json"
    assert main(["control", "derive-templates", "--data", str(root), "--out", str(out), "--no-progress"]) == 0
    assert EmotionTemplates.load(out).metadata["sequences"]["angry"] == 2
    assert main(["control", "derive-templates", "--data", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_emotion_on_params(flame, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    t = 50
    exp = RNG.normal(0, 0.1, (t, 50))
    seq = FlameSequence.from_groups(np.zeros((t, 100)), exp, np.zeros((t, 6)))
    src = seq.save(tmp_path / "in.npz")
    tpl = TEMPLATES.save(tmp_path / "tpl.npz")
    out = tmp_path / "out.npz"
    assert main(["control", "emotion", "--params", str(src), "--out", str(out), "--templates", str(tpl),
                 "--emotion", "happy", "--intensity", "moderate"]) == 0
    res = FlameSequence.load(out)
    expected_ref = 0.75 * TEMPLATES.get("happy") + 0.25 * exp[0]
    np.testing.assert_allclose(res.exp, expected_ref + (exp - exp[0]), atol=1e-5)  # motion kept
    assert res.metadata["emotion_control"]["keyframes"][0][1] == "happy"
    assert main(["control", "emotion", "--params", str(src), "--out", str(out), "--templates", str(tpl),
                 "--keys", "0:happy, 1:bored"]) == 2
    assert "unknown emotion 'bored'" in capsys.readouterr().err
    # default templates = FACS fit of the FLAME asset; the Table 3 analogue runs on them
    assert main(["control", "similarity", "--params", str(src)]) == 0
    assert '"cosine_similarity"' in capsys.readouterr().out
