"""Whisper language ID and SyncNet: real checkpoint formats, loaded from tiny models saved by the tests."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from x3dtalker_core.data.curate.syncnet import (
    SyncNet,
    load_syncnet,
    mfcc,
    syncnet_score,
)
from x3dtalker_core.errors import InvalidFileError, X3DError

whisper = pytest.importorskip("whisper", reason="openai-whisper not installed")


def save_tiny_whisper(path, language: str = "en", strength: float = 12.0):
    """A 1-layer multilingual Whisper whose decoder always prefers ``language`` (official .pt format).

    The decoder's final layer norm outputs a constant vector b, and only ``<|language|>``'s token
    embedding is aligned with it, so the language logits are ``strength`` for it and 0 elsewhere.
    """
    from whisper.model import ModelDimensions, Whisper
    from whisper.tokenizer import get_tokenizer

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=16, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=8, n_text_state=16, n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    model = Whisper(dims)
    tok = get_tokenizer(True, num_languages=model.num_languages)
    with torch.no_grad():
        # Whisper allocates some parameters with torch.empty (the decoder's positional embedding): uninitialised
        # memory can hold NaN/inf, which the zero layer-norm weight would not cancel (NaN * 0 = NaN).
        for param in model.parameters():
            param.normal_(0.0, 0.02)
        b = torch.ones(dims.n_text_state) / dims.n_text_state**0.5
        model.decoder.ln.weight.zero_()
        model.decoder.ln.bias.copy_(b)
        model.decoder.token_embedding.weight.zero_()
        model.decoder.token_embedding.weight[tok.to_language_token(language)] = strength * b
    torch.save({"dims": dataclasses.asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def speechlike(seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.3 * np.sin(2 * np.pi * 150 * t) * (np.sin(2 * np.pi * 3 * t) > 0) + 0.01 * rng.normal(size=t.size)
            ).astype(np.float32)


def test_whisper_checkpoint_names_the_language(tmp_path):
    from x3dtalker_core.data.curate.language import WhisperLanguageID

    en = WhisperLanguageID(save_tiny_whisper(tmp_path / "en.pt", "en"))
    guess = en(speechlike())
    assert guess.language == "en" and guess.probability > 0.95
    assert abs(sum(guess.probabilities.values()) - 1.0) < 1e-3
    de = WhisperLanguageID(save_tiny_whisper(tmp_path / "de.pt", "de"))
    g = de(speechlike())
    assert g.language == "de" and g.probabilities["en"] < 0.01


def test_whisper_bad_files(tmp_path):
    from x3dtalker_core.data.curate.language import WhisperLanguageID

    with pytest.raises(InvalidFileError, match="not found"):
        WhisperLanguageID(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(InvalidFileError, match="not an openai-whisper checkpoint"):
        WhisperLanguageID(bad)


def test_syncnet_full_size_matches_public_layout():
    sd = SyncNet().state_dict()
    assert sd["netcnnaud.0.weight"].shape == (64, 1, 3, 3)
    assert sd["netcnnaud.18.weight"].shape == (512, 256, 5, 4)
    assert sd["netcnnlip.0.weight"].shape == (96, 3, 5, 7, 7)
    assert sd["netcnnlip.18.weight"].shape == (512, 256, 1, 6, 6)
    assert sd["netfcaud.3.weight"].shape == (1024, 512) and sd["netfclip.1.running_var"].shape == (512,)
    model = SyncNet().eval()
    with torch.no_grad():  # the embeddings collapse to 1x1 exactly at the public input sizes
        assert model.forward_audio(torch.zeros(2, 1, 13, 20)).shape == (2, 1024)


def test_syncnet_state_dict_loads_and_scores(tmp_path):
    torch.manual_seed(0)
    ref = SyncNet(width=0.125, embed=32).eval()
    torch.save(ref.state_dict(), tmp_path / "syncnet_v2.model")
    model = load_syncnet(tmp_path / "syncnet_v2.model")
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(12, 224, 224, 3), dtype=np.uint8)
    score = syncnet_score(model, frames, speechlike(12 / 25), max_offset=3)
    assert score.method == "syncnet" and score.curve.shape == (7,)
    assert -3 <= score.offset <= 3 and score.confidence >= 0.0
    assert score.curve[score.offset + 3] == score.curve.min()
    with pytest.raises(InvalidFileError, match="224"):
        syncnet_score(model, frames[:, :100, :100], speechlike(0.5))


def test_syncnet_bad_files(tmp_path):
    torch.save({"a": torch.zeros(1)}, tmp_path / "x.model")
    with pytest.raises(InvalidFileError, match="not a SyncNet state dict"):
        load_syncnet(tmp_path / "x.model")
    (tmp_path / "y.model").write_bytes(b"garbage")
    with pytest.raises(InvalidFileError, match="cannot read"):
        load_syncnet(tmp_path / "y.model")


def test_mfcc_rate_and_energy():
    x = speechlike(1.0)
    cc = mfcc(x)
    assert cc.shape == (99, 13)  # 25 ms windows every 10 ms over 1 s, the tail zero-padded
    loud, quiet = mfcc(x)[:, 0].mean(), mfcc(0.01 * x)[:, 0].mean()
    assert loud - quiet == pytest.approx(2 * np.log(100), abs=0.1)  # c0 is log energy


def test_missing_whisper_is_a_clear_error(monkeypatch, tmp_path):
    from x3dtalker_core.data.curate.pipeline import CurateConfig, load_models

    monkeypatch.setenv("X3DTALKER_MODELS", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(X3DError, match="--no-language"):
        load_models(CurateConfig())
    models = load_models(CurateConfig(language=False))
    assert models.sync_method == "motion" and models.syncnet is None
