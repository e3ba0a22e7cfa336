"""WavLM and emotion2vec loading through the user's code path, on tiny random models saved in
their real on-disk formats (no network: HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pytest
import torch

from x3dtalker_core.audio import extract_features, list_encoder_models, load_encoder
from x3dtalker_core.audio.encoders import WavLMEncoder
from x3dtalker_core.errors import AssetNotFoundError, InvalidFileError, X3DError

SR = 16000
transformers = pytest.importorskip("transformers")


def speechy(seconds, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * SR))) / SR
    return (0.2 * np.sin(2 * np.pi * 170 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.normal(size=t.size)).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    """``$X3DTALKER_MODELS``-style root with 3dxtalker/wavlm-base-plus (and emotion2vec when FunASR imports)."""
    import tiny_models

    root = tmp_path_factory.mktemp("models")
    tiny_models.save_tiny_wavlm(root / "3dxtalker" / "wavlm-base-plus")
    try:
        tiny_models.save_tiny_emotion2vec(root / "3dxtalker" / "emotion2vec_plus_base")
    except ImportError:
        pass
    return root


@pytest.fixture
def use_models(models_root, monkeypatch):
    monkeypatch.setenv("X3DTALKER_MODELS", str(models_root))
    return models_root


@pytest.fixture(scope="module")
def funasr_available(models_root):
    if not (models_root / "3dxtalker" / "emotion2vec_plus_base").is_dir():
        pytest.skip("funasr is not installed (pip install funasr); emotion2vec is an optional encoder")


# -- WavLM ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds", [0.04, 0.5, 3.3])
def test_wavlm_from_registered_asset_gives_one_row_per_frame(use_models, seconds):
    enc = load_encoder("wavlm", "linguistic", device="cpu")
    assert enc.source.path == (use_models / "3dxtalker" / "wavlm-base-plus").resolve()
    assert not enc.model.training
    assert all(not p.requires_grad for p in enc.model.parameters())
    out = enc.encode(speechy(seconds))
    assert out.shape == (int(np.floor(seconds * 25 + 0.5)), 32)
    assert np.isfinite(out).all()


def test_wavlm_explicit_folder_windows_and_50hz_alignment(models_root):
    folder = models_root / "3dxtalker" / "wavlm-base-plus"
    x = speechy(9.0)
    whole = WavLMEncoder(folder, device="cpu", window_seconds=30)
    windowed = WavLMEncoder(folder, device="cpu", window_seconds=3, overlap_seconds=1, batch_size=2)
    calls = []
    a = whole.encode(x)
    b = windowed.encode(x, progress=lambda d, n: calls.append((d, n)))
    assert a.shape == b.shape == (225, 32)
    assert calls[-1][0] == calls[-1][1] == windowed.num_steps(225) > 1
    # windows differ only through context (GroupNorm statistics, attention span), not alignment
    corr = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    assert corr > 0.9
    # frame t is interpolated at 50 Hz position 2t + 0.375 of the unwindowed model output
    with torch.inference_mode():
        h = whole.model(input_values=torch.from_numpy(x)[None]).last_hidden_state[0].numpy()
    t = np.arange(225)
    pos = np.clip(2 * t + 0.375, 0, h.shape[0] - 1)
    j0 = np.minimum(np.floor(pos).astype(int), h.shape[0] - 2)
    w = (pos - j0)[:, None]
    np.testing.assert_allclose(a, (1 - w) * h[j0] + w * h[j0 + 1], atol=1e-4)


def test_wavlm_normalisation_matches_the_feature_extractor(models_root, tmp_path):
    from transformers import Wav2Vec2FeatureExtractor

    folder = tmp_path / "wavlm-norm"
    shutil.copytree(models_root / "3dxtalker" / "wavlm-base-plus", folder)
    Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    enc = WavLMEncoder(folder, device="cpu")
    assert enc.feature_extractor.do_normalize and enc.identity.endswith("norm1")
    x = speechy(1.0)
    ref = enc.feature_extractor(x, sampling_rate=SR, return_tensors="pt").input_values
    with torch.inference_mode():
        expected = enc.model(input_values=ref).last_hidden_state
        got = enc._forward(torch.from_numpy(x)[None])
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_wavlm_folder_errors(tmp_path, models_root, monkeypatch):
    monkeypatch.setenv("X3DTALKER_MODELS", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(AssetNotFoundError, match="wavlm-base-plus"):
        load_encoder("wavlm", "linguistic")
    with pytest.raises(AssetNotFoundError, match="does not exist"):
        WavLMEncoder(tmp_path / "missing")
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    shutil.copy(models_root / "3dxtalker" / "wavlm-base-plus" / "config.json", no_weights)
    with pytest.raises(InvalidFileError, match="has no weights"):
        WavLMEncoder(no_weights)
    with pytest.raises(AssetNotFoundError, match="hub is offline"):
        WavLMEncoder("microsoft/wavlm-base-plus")


def test_wavlm_refuses_other_model_types(tmp_path):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    cfg = Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                         conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    Wav2Vec2Model(cfg).save_pretrained(tmp_path / "w2v")
    with pytest.raises(InvalidFileError, match="not WavLM"):
        WavLMEncoder(tmp_path / "w2v")


def test_encoder_listing_finds_the_folders(use_models):
    assert list_encoder_models("wavlm") == [use_models / "3dxtalker" / "wavlm-base-plus"]
    with pytest.raises(X3DError):
        list_encoder_models("hubert")


# -- emotion2vec ----------------------------------------------------------------------------------

def test_emotion2vec_through_funasr_automodel(use_models, funasr_available):
    from x3dtalker_core.audio.encoders import Emotion2vecEncoder

    torch.set_num_threads(1)
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(5)
    expect = (torch.rand(1).item(), np.random.rand(), random.random())
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(5)
    try:
        enc = load_encoder("emotion2vec", "emotion", device="cpu")
        # FunASR resets the thread count and reseeds every RNG; both are restored
        assert torch.get_num_threads() == 1
        assert (torch.rand(1).item(), np.random.rand(), random.random()) == expect
    finally:
        torch.set_num_threads(2)
    assert isinstance(enc, Emotion2vecEncoder)
    assert not enc.model.training and enc.normalize
    assert (enc.receptive_field, enc.hop) == (400, 320)
    for seconds in (0.04, 1.0, 6.5):
        out = enc.encode(speechy(seconds))
        assert out.shape == (int(np.floor(seconds * 25 + 0.5)), 32) and np.isfinite(out).all()
    x = speechy(2.0)
    np.testing.assert_array_equal(enc.encode(x), enc.encode(x))  # eval mode: no dropout


def test_emotion2vec_weight_mismatch_is_refused(models_root, funasr_available, tmp_path):
    from x3dtalker_core.audio.encoders import Emotion2vecEncoder

    folder = tmp_path / "e2v"
    shutil.copytree(models_root / "3dxtalker" / "emotion2vec_plus_base", folder)
    state = torch.load(folder / "model.pt", weights_only=True)
    state.pop(next(k for k in state if k.startswith("blocks.0.")))
    torch.save(state, folder / "model.pt")
    with pytest.raises(InvalidFileError, match="does not match"):
        Emotion2vecEncoder(folder, device="cpu")


def test_emotion2vec_missing_folder_fails_fast_without_hub_retries(tmp_path):
    # resolved before FunASR is imported or asked (it would retry the hub for ~20 s)
    from x3dtalker_core.audio.encoders import Emotion2vecEncoder

    with pytest.raises(AssetNotFoundError, match="does not exist"):
        Emotion2vecEncoder(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text("model: Emotion2vec\n")
    with pytest.raises(AssetNotFoundError, match="lacks model.pt"):
        Emotion2vecEncoder(tmp_path / "half")
    with pytest.raises(AssetNotFoundError, match="hub is offline"):
        Emotion2vecEncoder("iic/emotion2vec_plus_base")


def test_extract_features_with_the_paper_encoders(use_models, funasr_available):
    feats = extract_features(speechy(2.2), linguistic="wavlm", emotion="emotion2vec", device="cpu")
    assert feats.linguistic.shape == (55, 32) and feats.emotion.shape == (55, 32)
    assert feats.encoder_spec() == {"linguistic": {"name": "wavlm", "dim": 32}, "emotion": {"name": "emotion2vec", "dim": 32}}
    assert feats.metadata["encoders"]["linguistic"]["paper"] is True
    assert list_encoder_models("emotion2vec") == [use_models / "3dxtalker" / "emotion2vec_plus_base"]
