"""Generator network, smoothed noise, windows and sampling (no training: a random tiny network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from x3dtalker_core.audio.features import AudioFeatures
from x3dtalker_core.errors import X3DError
from x3dtalker_core.model import (
    FlowConfig, GenerationCancelled, GeneratorConfig, ModelConfig, build_generator, generate_sequence, preset,
)
from x3dtalker_core.model.flow import anchor_frames, normalize_amplitude, smoothed_noise
from x3dtalker_core.model.network import FlowTransformer
from x3dtalker_core.model.smoothing import MOUTH_WINDOW, mouth_channels, savgol_smooth, smooth_motion
from x3dtalker_core.model.windows import CrossFade, plan_windows, window_weights
from x3dtalker_core.params import PARAM_DIM, FlameParams

TINY = ModelConfig(hidden=32, heads=2, backbone_blocks=1, identity_blocks=1, pose_blocks=1, expression_blocks=1,
                   ff_mult=2, dropout=0.0, timestep_dim=16, linguistic_dim=6, emotion_dim=3,
                   adaln_zero=False)  # random gates and outputs: every window's output depends on its inputs


def features(num_frames: int, seed: int = 0, linguistic: str = "mel", dim: int = 6) -> AudioFeatures:
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)
    amp = (np.abs(np.sin(t / 3.0)) + 0.1)[:, None]
    env = np.repeat(amp[:, 0], 640)
    return AudioFeatures(rng.normal(size=(num_frames, dim)), amp, rng.normal(size=(num_frames, 3)), env,
                         linguistic, "prosody")


def tiny_generator(window: int = 40, seed: int = 0):
    torch.manual_seed(seed)
    return build_generator(GeneratorConfig(model=TINY, window=window))


def reference() -> FlameParams:
    rng = np.random.default_rng(3)
    return FlameParams.from_vector(rng.normal(scale=0.1, size=PARAM_DIM).astype(np.float32))


def test_presets_build_and_paper_size():
    small = FlowTransformer(preset("small").model)
    x = torch.randn(2, 30, PARAM_DIM)
    v = small(x, torch.tensor([0.0, 100.0]), torch.zeros(2, 1, PARAM_DIM), torch.randn(2, 30, 320),
              torch.rand(2, 30, 1), torch.randn(2, 30, 10))
    assert v.shape == (2, 30, PARAM_DIM)
    m = preset("paper").model
    assert (m.hidden, m.heads, m.backbone_blocks, m.identity_blocks, m.pose_blocks, m.expression_blocks) == \
        (768, 12, 6, 2, 2, 2)


def test_heads_write_their_own_channels():
    """Only the pose head sees amplitude, only the expression head sees emotion (paper Fig. 3)."""
    torch.manual_seed(0)
    net = FlowTransformer(ModelConfig(**{**TINY.__dict__, "velocity_skip": False})).eval()
    args = [torch.randn(1, 20, PARAM_DIM), torch.tensor([50.0]), torch.zeros(1, 1, PARAM_DIM),
            torch.randn(1, 20, 6), torch.rand(1, 20, 1), torch.randn(1, 20, 3)]
    base = net(*args)
    amp = list(args)
    amp[4] = torch.rand(1, 20, 1) * 3
    changed = (net(*amp) - base).abs().amax(dim=(0, 1)) > 0
    assert changed[150:156].all() and not changed[:150].any() and not changed[156:].any()
    emo = list(args)
    emo[5] = torch.randn(1, 20, 3)
    changed = (net(*emo) - base).abs().amax(dim=(0, 1)) > 0
    assert changed[100:150].all() and not changed[:100].any() and not changed[150:].any()


def test_conditions_are_reusable_across_steps():
    torch.manual_seed(0)
    net = FlowTransformer(TINY).eval()
    x, k = torch.randn(2, 16, PARAM_DIM), torch.tensor([3.0, 400.0])
    conds = (torch.zeros(2, 16, PARAM_DIM), torch.randn(2, 16, 6), torch.rand(2, 16, 1), torch.randn(2, 16, 3))
    cached = net.encode_conditions(*conds)
    assert torch.equal(net.velocity(x, k, cached), net(x, k, *conds))


def test_anchor_rules():
    cfg = FlowConfig()
    amp = normalize_amplitude(np.abs(np.sin(np.arange(200) / 4.0))[:, None])
    anchors = anchor_frames(amp, cfg)
    assert anchors[0] == 0 and anchors[-1] == 199
    gaps = np.diff(anchors)
    assert gaps.min() >= 1 and gaps.max() <= cfg.anchor_max_gap
    # extrema of |sin(t/4)| are ~every 6 frames: the envelope rule places far more anchors than 1/s
    assert len(anchors) > 20
    silent = anchor_frames(np.zeros(200), cfg)
    assert np.diff(silent).max() <= cfg.anchor_max_gap
    fixed = anchor_frames(amp, FlowConfig(anchors="fixed"))
    assert list(fixed[:3]) == [0, 25, 50] and fixed[-1] == 199


def test_smoothed_noise_is_seeded_smooth_and_unit_variance():
    cfg = FlowConfig(anchors="fixed", anchor_spacing=10)
    amp = [np.ones(100)] * 64
    n1 = smoothed_noise(amp, cfg, torch.Generator().manual_seed(1))
    n2 = smoothed_noise(amp, cfg, torch.Generator().manual_seed(1))
    n3 = smoothed_noise(amp, cfg, torch.Generator().manual_seed(2))
    assert n1.shape == (64, 100, PARAM_DIM) and torch.equal(n1, n2) and not torch.equal(n1, n3)
    assert abs(float(n1.var()) - 1.0) < 0.1  # variance preserving, including mid-segment frames
    assert abs(float(n1[:, 5].var()) - 1.0) < 0.1
    step = (n1[:, 1:] - n1[:, :-1]).pow(2).mean()
    assert float(step) < 0.2  # i.i.d. noise would give 2


def test_windows_cover_and_crossfade():
    plan = plan_windows(1000, 100, 20)
    assert plan[0][0] == 0 and plan[-1][1] == 1000 and all(e - s == 100 for s, e in plan)
    assert all(plan[i][1] - plan[i + 1][0] >= 20 for i in range(len(plan) - 1))
    assert plan_windows(50, 100, 20) == [(0, 50)]
    weights = window_weights(plan)
    blend = CrossFade(1000, 1)
    for (s, e), w in zip(plan, weights):
        blend.add(s, np.full((e - s, 1), 2.0, np.float32), w)
    np.testing.assert_allclose(blend.result(), 2.0, rtol=1e-6)
    with pytest.raises(X3DError):
        plan_windows(100, 50, 50)


def test_savgol_smoothing_keeps_short_clips_and_polynomials():
    t = np.linspace(0, 1, 50)[:, None]
    line = np.hstack([t, 2 * t**2]).astype(np.float32)
    np.testing.assert_allclose(savgol_smooth(line, 9, 2), line, atol=1e-5)
    short = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    assert np.array_equal(savgol_smooth(short, 9, 2), short)


def test_per_channel_smoothing_keeps_a_lip_closure():
    """A 3-frame closure (jaw shut, ``mouthClose`` on) survives on the mouth channels, which get at most
    MOUTH_WINDOW frames; the head keeps the full window; PCA checkpoints get only the jaw shortened."""
    from x3dtalker_core.flame.arkit import ARKIT_EXPRESSION_NAMES
    from x3dtalker_core.params import EXP, HEAD_POSE, JAW_POSE

    t = 40
    params = np.zeros((t, PARAM_DIM), np.float32)
    jaw, close = JAW_POSE.start, EXP.start + ARKIT_EXPRESSION_NAMES.index("mouthClose")
    brow = EXP.start + ARKIT_EXPRESSION_NAMES.index("browInnerUp")
    params[:, jaw] = 0.2
    params[19:22, jaw] = 0.0  # the closure
    params[19:22, close] = 1.0
    params[19:22, brow] = 1.0
    params[19:22, HEAD_POSE.start] = 1.0
    out = smooth_motion(params, 7, 2, "arkit")
    everywhere = savgol_smooth(params, 7, 2)
    assert out[20, jaw] < 0.5 * everywhere[20, jaw]  # the jaw stays nearer shut than with 7 frames
    assert out[20, close] > everywhere[20, close] + 0.1
    np.testing.assert_array_equal(out[:, brow], everywhere[:, brow])  # not a mouth channel
    np.testing.assert_array_equal(out[:, HEAD_POSE.start], everywhere[:, HEAD_POSE.start])
    np.testing.assert_allclose(out[:, jaw], savgol_smooth(params[:, [jaw]], MOUTH_WINDOW, 2)[:, 0])
    assert set(mouth_channels("flame-pca")) == set(range(JAW_POSE.start, JAW_POSE.stop))
    assert close in mouth_channels("arkit") and brow not in mouth_channels("arkit")
    short = params[:2].copy()
    assert smooth_motion(short, 7, 2, "arkit") is not short  # never the caller's array


def test_same_seed_bit_identical_different_seed_differs():
    gen = tiny_generator()
    feats = features(90)
    a = generate_sequence(gen, reference(), feats, steps=4, seed=7)
    b = generate_sequence(gen, reference(), feats, steps=4, seed=7)
    c = generate_sequence(gen, reference(), feats, steps=4, seed=8)
    assert a.params.shape == (90, PARAM_DIM)
    assert np.array_equal(a.params, b.params)
    assert not np.allclose(a.params, c.params)
    d = generate_sequence(gen, reference(), feats, steps=4, seed=7, solver="heun", window_batch=1)
    assert d.metadata["solver"] == "heun" and np.all(np.isfinite(d.params))


def test_controls_reference_per_frame_progress_cancel():
    gen = tiny_generator()
    feats = features(60)
    base = generate_sequence(gen, reference(), feats, steps=3, seed=0, smoothing=None)
    calls = []
    again = generate_sequence(gen, reference(), feats, steps=3, seed=0, smoothing=None,
                              progress=lambda d, t: calls.append((d, t)))
    np.testing.assert_array_equal(again.params, base.params)
    windows = base.metadata["windows"]
    assert calls[-1] == (3 * windows, 3 * windows)
    per_frame = np.repeat(reference().to_vector()[None], 60, axis=0)
    same = generate_sequence(gen, reference(), feats, steps=3, seed=0, smoothing=None, reference_per_frame=per_frame)
    np.testing.assert_allclose(same.params, base.params, atol=1e-5)
    per_frame[30:, 100] += 1.0  # an emotion keyframe halfway
    keyed = generate_sequence(gen, reference(), feats, steps=3, seed=0, smoothing=None, reference_per_frame=per_frame)
    assert not np.allclose(keyed.params[30:, 100], base.params[30:, 100])

    class Stop(Exception):
        pass

    def cancel():
        raise Stop

    with pytest.raises(Stop):
        generate_sequence(gen, reference(), feats, steps=3, cancel=cancel)
    with pytest.raises(GenerationCancelled):
        generate_sequence(gen, reference(), feats, steps=3, cancel=lambda: True)
    with pytest.raises(X3DError, match="reference_per_frame"):
        generate_sequence(gen, reference(), feats, reference_per_frame=np.zeros((10, 284)))


def test_feature_encoder_mismatch_is_a_clear_error():
    gen = tiny_generator()
    with pytest.raises(X3DError, match="trained on 'mel'.*'wavlm'"):
        generate_sequence(gen, reference(), features(30, linguistic="wavlm", dim=6))
    with pytest.raises(X3DError, match="6-d"):
        generate_sequence(gen, reference(), features(30, dim=768))
