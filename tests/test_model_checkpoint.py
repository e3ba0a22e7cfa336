"""Checkpoint format: round trip, and clear messages for corrupt, truncated, foreign or mismatched files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from x3dtalker_core.audio.features import AudioFeatures
from x3dtalker_core.errors import InvalidFileError, X3DError
from x3dtalker_core.model import (
    GeneratorConfig, ModelConfig, NormStats, available_checkpoints, build_generator, generate_sequence, load_generator,
    read_checkpoint_header, save_checkpoint,
)
from x3dtalker_core.model.checkpoint import FORMAT
from x3dtalker_core.params import PARAM_DIM, FlameParams

TINY = ModelConfig(hidden=32, heads=2, backbone_blocks=1, identity_blocks=1, pose_blocks=1, expression_blocks=1,
                   ff_mult=2, timestep_dim=16, linguistic_dim=6, emotion_dim=3, adaln_zero=False)


def feats(t=40, linguistic="mel", dim=6):
    rng = np.random.default_rng(0)
    amp = rng.uniform(0.1, 1, (t, 1))
    return AudioFeatures(rng.normal(size=(t, dim)), amp, rng.normal(size=(t, 3)), np.repeat(amp[:, 0], 640),
                         linguistic, "prosody")


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    gen = build_generator(GeneratorConfig(model=TINY, window=32))
    rng = np.random.default_rng(1)
    stats = NormStats(rng.normal(size=PARAM_DIM) * 0.01, rng.uniform(0.05, 0.2, PARAM_DIM), np.zeros(PARAM_DIM),
                      np.ones(PARAM_DIM), frames=123)
    gen.network.normalizer.set_stats(stats)
    path = save_checkpoint(tmp_path / "gen.safetensors", gen.network, gen.config, {"training": {"clips": 2}})
    return gen, path


def test_round_trip_is_exact(checkpoint):
    gen, path = checkpoint
    loaded = load_generator(path, device="cpu")
    assert loaded.config == gen.config
    assert loaded.info["training"] == {"clips": 2} and "code_version" in loaded.info
    assert loaded.network.normalizer.stats().frames == 123
    ref = FlameParams.zeros()
    a = generate_sequence(gen, ref, feats(), steps=3, seed=4)
    b = generate_sequence(loaded, ref, feats(), steps=3, seed=4)
    assert np.array_equal(a.params, b.params)
    config, info = read_checkpoint_header(path)
    assert config.model.hidden == 32 and info["training"]["clips"] == 2


def test_lookup_by_name_in_model_folder(checkpoint, tmp_path, monkeypatch):
    _, path = checkpoint
    folder = tmp_path / "models" / "3dxtalker"
    folder.mkdir(parents=True)
    (folder / "mine.safetensors").write_bytes(path.read_bytes())
    monkeypatch.setenv("X3DTALKER_MODELS", str(tmp_path / "models"))
    assert "mine.safetensors" in available_checkpoints()
    assert load_generator("mine", device="cpu", dtype="float32").name == "mine.safetensors"
    with pytest.raises(X3DError, match="not found"):
        load_generator("nothing-here", device="cpu")


def test_bf16_inference_runs(checkpoint):
    _, path = checkpoint
    gen = load_generator(path, device="cpu", dtype="bf16")
    assert gen.dtype == torch.bfloat16 and gen.network.normalizer.delta_std.dtype == torch.float32
    out = generate_sequence(gen, FlameParams.zeros(), feats(), steps=2)
    assert np.all(np.isfinite(out.params))


def test_corrupt_and_truncated_files(checkpoint, tmp_path):
    _, path = checkpoint
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidFileError, match="corrupt or truncated"):
        load_generator(truncated, device="cpu")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a checkpoint" * 10)
    with pytest.raises(InvalidFileError, match="corrupt or truncated"):
        load_generator(garbage, device="cpu")


def test_foreign_and_mismatched_files(checkpoint, tmp_path):
    gen, path = checkpoint
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(InvalidFileError, match="not a 3DXTalker generator checkpoint"):
        load_generator(foreign, device="cpu")

    # a checkpoint whose config says hidden 64 but whose weights are 32 wide
    state = {k: v.contiguous() for k, v in gen.network.state_dict().items()}
    bigger = GeneratorConfig(model=ModelConfig(**{**TINY.__dict__, "hidden": 64}), window=32)
    meta = {"format": FORMAT, "format_version": "1", "config": json.dumps(bigger.to_dict()), "info": "{}"}
    wrong = tmp_path / "wrong.safetensors"
    save_file(state, str(wrong), metadata=meta)
    with pytest.raises(InvalidFileError, match="has shape"):
        load_generator(wrong, device="cpu")

    missing = tmp_path / "missing.safetensors"
    save_file({k: v for k, v in state.items() if not k.startswith("pose_out")}, str(missing),
              metadata={**meta, "config": json.dumps(gen.config.to_dict())})
    with pytest.raises(InvalidFileError, match="missing .*pose_out"):
        load_generator(missing, device="cpu")

    bad_config = tmp_path / "badcfg.safetensors"
    save_file(state, str(bad_config), metadata={**meta, "config": json.dumps({"model": {"hidden": 32, "heads": 5}})})
    with pytest.raises(InvalidFileError, match="divisible"):
        load_generator(bad_config, device="cpu")

    future = tmp_path / "future.safetensors"
    save_file(state, str(future), metadata={**meta, "format_version": "9"})
    with pytest.raises(InvalidFileError, match="format version"):
        load_generator(future, device="cpu")

    nan = {k: v.clone() for k, v in state.items()}
    nan["pose_out.net.2.weight"][0, 0] = float("nan")
    nan_path = tmp_path / "nan.safetensors"
    save_file(nan, str(nan_path), metadata={**meta, "config": json.dumps(gen.config.to_dict())})
    with pytest.raises(InvalidFileError, match="NaN"):
        load_generator(nan_path, device="cpu")


def test_wavlm_checkpoint_given_mel_features(checkpoint, tmp_path):
    gen, _ = checkpoint
    cfg = GeneratorConfig(model=ModelConfig(**{**TINY.__dict__, "linguistic_encoder": "wavlm", "linguistic_dim": 768}),
                          window=32)
    wavlm_gen = build_generator(cfg)
    path = save_checkpoint(tmp_path / "wavlm.safetensors", wavlm_gen.network, cfg)
    loaded = load_generator(path, device="cpu")
    with pytest.raises(X3DError, match="trained on 'wavlm' linguistic features \\(768-d\\) but got 'mel'"):
        generate_sequence(loaded, FlameParams.zeros(), feats())


def test_float16_on_cpu_runs_in_float32_with_a_note(checkpoint):
    _, path = checkpoint
    gen = load_generator(path, device="cpu", dtype="float16")
    assert gen.dtype == torch.float32 and gen.requested_dtype == torch.float16 and "bfloat16" in gen.note
    out = generate_sequence(gen, FlameParams.zeros(), feats(), steps=2)
    assert np.all(np.isfinite(out.params))
    assert load_generator(path, device="cpu", dtype="bfloat16").note is None


def test_ppg_checkpoint_where_hama_cannot_load_says_what_to_do(tmp_path, monkeypatch):
    """The mel fallback: a ppg generator given mel features, on a platform without hama, names the way out."""
    from x3dtalker_core.audio.encoders import ppg as ppg_mod

    cfg = GeneratorConfig(model=ModelConfig(**{**TINY.__dict__, "linguistic_encoder": "ppg", "linguistic_dim": 191}),
                          window=32)
    loaded = load_generator(save_checkpoint(tmp_path / "ppg.safetensors", build_generator(cfg).network, cfg),
                            device="cpu")
    monkeypatch.setattr(ppg_mod, "ppg_unavailable", lambda: "hama ships no native library for this platform")
    with pytest.raises(X3DError, match="no native library.*trained on 'mel' features.*LINGUISTIC=mel"):
        generate_sequence(loaded, FlameParams.zeros(), feats())
    monkeypatch.setattr(ppg_mod, "ppg_unavailable", lambda: None)
    with pytest.raises(X3DError, match="extract features with linguistic='ppg'"):
        generate_sequence(loaded, FlameParams.zeros(), feats())
