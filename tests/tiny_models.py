"""Tiny random-weight WavLM and emotion2vec folders in their real on-disk formats.

Test-only (not shipped with the library): for tests and ``bench/audio_features.py`` on machines
without the real downloads (and without network): they go
through exactly the loading code a user's ``wavlm-base-plus`` / ``emotion2vec_plus_base`` folder
takes, with the real convolutional front ends (400-sample receptive field, 320-sample hop, 50 Hz)
and a few small transformer layers. Their features are meaningless.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

EMOTION_LABELS = ("angry", "disgusted", "fearful", "happy", "neutral", "other", "sad", "surprised", "<unk>")


def save_tiny_wavlm(folder: str | os.PathLike, hidden_size: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Write a transformers WavLM folder (config.json, model.safetensors, preprocessor_config.json)."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    folder = Path(folder)
    config = WavLMConfig(
        hidden_size=hidden_size, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden_size, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, num_buckets=32, max_bucket_distance=200,
    )
    from x3dtalker_core.audio.encoders.wavlm import no_progress_bars

    torch.manual_seed(seed)
    with no_progress_bars():
        WavLMModel(config).save_pretrained(folder, safe_serialization=True)
    # same preprocessing settings as microsoft/wavlm-base-plus: raw waveform in
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=False, return_attention_mask=True
    ).save_pretrained(folder)
    return folder


def tiny_emotion2vec_config(embed_dim: int = 32, depth: int = 2, heads: int = 2) -> dict:
    """FunASR ``config.yaml`` content of a small Emotion2vec (data2vec 2.0 audio layout)."""
    audio = {
        "type": "AUDIO", "prenet_depth": 1, "prenet_layerdrop": 0.0, "prenet_dropout": 0.1,
        "start_drop_path_rate": 0.0, "end_drop_path_rate": 0.0, "num_extra_tokens": 10,
        "init_extra_token_zero": False, "mask_noise_std": 0.01, "mask_prob_min": None, "inverse_mask": False,
        "mask_prob": 0.5, "mask_prob_adjust": 0.05, "keep_masked_pct": 0.0, "mask_length": 5,
        "add_masks": False, "remove_masks": False, "mask_dropout": 0.0, "encoder_zero_mask": True,
        "mask_channel_prob": 0.0, "mask_channel_length": 64, "ema_local_encoder": False,
        "local_grad_mult": 1.0, "use_alibi_encoder": True, "alibi_scale": 1.0, "learned_alibi": False,
        "alibi_max_pos": None, "learned_alibi_scale": True, "learned_alibi_scale_per_head": True,
        "learned_alibi_scale_per_layer": False, "num_alibi_heads": heads, "model_depth": depth,
        "decoder": None, "extractor_mode": "layer_norm",
        "feature_encoder_spec": "[(16, 10, 5)] + [(16, 3, 2)] * 4 + [(16,2,2)] + [(16,2,2)]",
        "conv_pos_width": 15, "conv_pos_groups": 2, "conv_pos_depth": 2, "conv_pos_pre_ln": False,
    }
    model_conf = {
        "loss_beta": 0.0, "loss_scale": None, "depth": depth, "start_drop_path_rate": 0.0,
        "end_drop_path_rate": 0.0, "num_heads": heads, "norm_eps": 1e-5, "norm_affine": True,
        "encoder_dropout": 0.1, "post_mlp_drop": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.0,
        "dropout_input": 0.0, "layerdrop": 0.05, "embed_dim": embed_dim, "mlp_ratio": 2.0,
        "layer_norm_first": False, "average_top_k_layers": depth, "end_of_block_targets": False,
        "clone_batch": 1, "normalize": True, "modalities": {"audio": audio},
    }
    return {
        "model": "Emotion2vec", "model_conf": model_conf,
        "tokenizer": "CharTokenizer", "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
    }


def save_tiny_emotion2vec(folder: str | os.PathLike, embed_dim: int = 32, depth: int = 2, seed: int = 0) -> Path:
    """Write a FunASR emotion2vec folder (config.yaml, configuration.json, model.pt, tokens.txt).

    Needs ``funasr`` (its ``Emotion2vec`` class builds the network whose weights are saved).
    """
    import torch
    import yaml

    from x3dtalker_core.audio.encoders.emotion2vec import funasr_quiet

    with funasr_quiet():
        from funasr.models.emotion2vec.model import Emotion2vec

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = tiny_emotion2vec_config(embed_dim, depth)
    torch.manual_seed(seed)
    net = Emotion2vec(model_conf=cfg["model_conf"], vocab_size=len(EMOTION_LABELS))
    torch.save(net.state_dict(), folder / "model.pt")
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    (folder / "tokens.txt").write_text("\n".join(EMOTION_LABELS) + "\n", encoding="utf-8")
    (folder / "configuration.json").write_text(json.dumps({
        "framework": "pytorch", "task": "emotion-recognition",
        "model": {"type": "emotion2vec"},
        "file_path_metas": {"init_param": "model.pt", "config": "config.yaml", "tokenizer_conf": {"token_list": "tokens.txt"}},
    }, indent=2), encoding="utf-8")
    return folder
