"""Presets (paper = the authors' network, improved, small), per-window caches, and old checkpoints."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from x3dtalker_core.audio.features import AudioFeatures
from x3dtalker_core.model import GeneratorConfig, ModelConfig, build_generator, generate_sequence, load_generator, preset
from x3dtalker_core.model.checkpoint import read_checkpoint_header, save_checkpoint
from x3dtalker_core.model.config import LEGACY_MODEL_VALUES, PAPER_MODEL
from x3dtalker_core.model.flow import normalize_amplitude
from x3dtalker_core.model.generate import initial_noise
from x3dtalker_core.model.network import FlowTransformer
from x3dtalker_core.params import PARAM_DIM, FlameParams

BUNDLED = Path(__file__).resolve().parent.parent / "x3dtalker_core" / "checkpoints" / "3dxtalker_bootstrap.safetensors"
SIZE = dict(hidden=32, heads=2, backbone_blocks=1, identity_blocks=2, pose_blocks=1, expression_blocks=1, ff_mult=2,
            timestep_dim=16, linguistic_dim=6, emotion_dim=3, dropout=0.0, output_dropout=0.0)
# Random gates everywhere: every branch contributes, so a wrong cache shows in the output.
IMPROVED = ModelConfig(**SIZE, adaln_zero=False)
PAPER = dataclasses.replace(PAPER_MODEL, **SIZE)
DESIGNS = {"improved": IMPROVED, "paper": PAPER}


def features(t: int, seed: int = 0) -> AudioFeatures:
    rng = np.random.default_rng(seed)
    env = np.abs(np.sin(np.arange(t * 640) / 900.0)).astype(np.float32) + 0.05
    amp = env.reshape(t, 640).mean(1, keepdims=True)
    return AudioFeatures(rng.normal(size=(t, 6)), amp, rng.normal(size=(t, 3)), env, "mel", "prosody")


def network_inputs(net: FlowTransformer, f: AudioFeatures, b: int = 2):
    amp = normalize_amplitude(f.amplitude) if net.amplitude_channels == 1 else f.envelope.reshape(-1, 640)
    t = f.num_frames
    tensors = [torch.zeros(b, 1, PARAM_DIM), f.linguistic, amp, f.emotion]
    return [tensors[0]] + [torch.as_tensor(np.asarray(x, np.float32))[None].expand(b, t, -1).contiguous()
                           for x in tensors[1:]]


def test_paper_preset_is_the_authors_network():
    m = preset("paper").model
    assert (m.hidden, m.heads, m.backbone_blocks, m.identity_blocks, m.pose_blocks, m.expression_blocks) == \
        (768, 12, 6, 2, 2, 2)
    assert not (m.adaln_zero or m.velocity_skip or m.cross_attention_bias or m.cross_attention_positions
                or m.feature_projection or m.reference_normalization or m.output_norm)
    assert m.amplitude_input == "envelope" and m.identity_double_attention and m.output_dropout == 0.1
    net = FlowTransformer(m)
    names = {n for n, _ in net.named_parameters()}
    assert not any("skip_gain" in n or "norm_cross" in n for n in names)
    assert "backbone.0.cross_attn.to_k.weight" in names and "identity_head.0.second_self_attn.to_q.weight" in names
    # the authors' envelope CNN: 640 sample channels -> 512 -> 768 -> 768 with BatchNorm
    assert net.amplitude_enc.net[0].weight.shape == (512, 640, 3)
    assert isinstance(net.amplitude_enc.net[1], torch.nn.BatchNorm1d)
    # cross-attention reads the raw 320-d linguistic features (no projection MLP)
    assert net.backbone[0].cross_attn.to_k.weight.shape == (768, m.linguistic_dim)
    # ~161 M trainable parameters like the authors' (REFERENCE-NOTES §2.1: 160.7 M with a 1-block identity
    # head; the paper's second identity block adds 11.8 M)
    count = sum(p.numel() for p in net.parameters())
    assert 150e6 < count < 185e6
    improved = preset("improved").model
    assert improved.adaln_zero and improved.velocity_skip and improved.amplitude_input == "frame"
    assert preset("small").model.hidden == 128 and preset("small").model.velocity_skip


@pytest.mark.parametrize("design", DESIGNS)
def test_cached_keys_values_equal_uncached(design):
    torch.manual_seed(0)
    net = FlowTransformer(DESIGNS[design]).eval()
    inputs = network_inputs(net, features(24))
    x, k = torch.randn(2, 24, PARAM_DIM), torch.tensor([16.0, 16.0])
    with torch.no_grad():
        cached = net.velocity(x, net.encode_time(k[:1]), net.encode_conditions(*inputs))
        uncached = net(x, k, *inputs)
    assert cached.abs().max() > 0.1
    assert torch.allclose(cached, uncached, atol=1e-5, rtol=0)


@pytest.mark.parametrize("design", DESIGNS)
def test_generate_equals_an_uncached_euler_loop(design):
    """generate_sequence (cached conditions, one time embedding per step for all windows) against the
    plain loop that runs the full forward at every step."""
    torch.manual_seed(1)
    gen = build_generator(GeneratorConfig(model=DESIGNS[design], window=30))
    f = features(30)
    ref = FlameParams.zeros()
    out = generate_sequence(gen, ref, f, steps=4, seed=7, smoothing=None).params
    net = gen.network
    x = torch.from_numpy(initial_noise(gen.config, normalize_amplitude(f.amplitude), 7))[None]
    inputs = network_inputs(net, f, b=1)
    with torch.no_grad():
        for i in range(4):
            x = x + net(x, torch.full((1,), i / 4 * 512), *inputs).float() / 4
    loop = net.normalizer.denormalize_delta(x)[0].numpy()
    assert np.abs(out).max() > 0.1
    np.testing.assert_allclose(out, loop, atol=1e-5, rtol=0)


def test_paper_design_heads_write_their_own_channels():
    torch.manual_seed(0)
    net = FlowTransformer(PAPER).eval()
    inputs = network_inputs(net, features(20), b=1)
    x, k = torch.randn(1, 20, PARAM_DIM), torch.tensor([50.0])
    with torch.no_grad():
        base = net(x, k, *inputs)
        loud = list(inputs)
        loud[2] = inputs[2] * 3
        changed = (net(x, k, *loud) - base).abs().amax(dim=(0, 1)) > 0
    assert changed[150:156].all() and not changed[:150].any() and not changed[156:].any()


def test_wrong_amplitude_width_is_named():
    net = FlowTransformer(PAPER).eval()
    inputs = network_inputs(FlowTransformer(IMPROVED), features(10), b=1)
    with pytest.raises(Exception, match="640 channel"):
        net.encode_conditions(*inputs)


def _strip_new_keys(src: Path, dst: Path) -> None:
    """A copy of ``src`` whose JSON config lacks the keys added after format 1 was first written."""
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["config"])
    for key in LEGACY_MODEL_VALUES:
        config["model"].pop(key, None)
    meta["config"] = json.dumps(config)
    save_file(tensors, str(dst), metadata=meta)


def test_old_checkpoints_keep_the_architecture_they_were_trained_with(tmp_path, monkeypatch):
    torch.manual_seed(2)
    gen = build_generator(GeneratorConfig(model=IMPROVED, window=30))
    path = save_checkpoint(tmp_path / "new.safetensors", gen.network, gen.config)
    _strip_new_keys(path, tmp_path / "old.safetensors")
    # Whatever today's defaults say, a key the checkpoint lacks takes its legacy value.
    import x3dtalker_core.model.config as cfg_mod
    flipped = {k: (not v if isinstance(v, bool) else "envelope") for k, v in LEGACY_MODEL_VALUES.items()}
    monkeypatch.setattr(cfg_mod.ModelConfig, "__init__", _with_defaults(cfg_mod.ModelConfig.__init__, flipped))
    old = load_generator(tmp_path / "old.safetensors", device="cpu")
    assert all(getattr(old.config.model, k) == v for k, v in LEGACY_MODEL_VALUES.items())
    monkeypatch.undo()
    ref, f = FlameParams.zeros(), features(30)
    a = generate_sequence(gen, ref, f, steps=3, seed=5).params
    b = generate_sequence(old, ref, f, steps=3, seed=5).params
    assert np.array_equal(a, b)


def _with_defaults(init, defaults):
    def patched(self, *args, **kwargs):
        init(self, *args, **{**defaults, **kwargs})
    return patched


def test_bundled_checkpoint_reads_with_its_training_architecture():
    config, _ = read_checkpoint_header(BUNDLED)
    with safe_open(str(BUNDLED), framework="pt") as f:
        stored = json.loads(f.metadata()["config"])["model"]
    for key, legacy in LEGACY_MODEL_VALUES.items():
        assert getattr(config.model, key) == stored.get(key, legacy)
    gen = load_generator(BUNDLED, device="cpu")  # every tensor present and shaped as the config says
    assert gen.config.model.amplitude_input == stored.get("amplitude_input", "frame")
