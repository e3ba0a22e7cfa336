"""``wavlm``: WavLM last hidden state (paper §3.2; 768-d at 50 Hz for ``microsoft/wavlm-base-plus``).

Loaded with ``transformers`` (``WavLMModel`` + ``Wav2Vec2FeatureExtractor``) from a local folder
(the registered ``wavlm`` asset by default) or a hub id when online. Frozen: ``eval()`` (no
dropout, no layer-drop, no SpecAugment — unlike the authors' training run, which kept it in train
mode), no gradients, bf16 autocast on GPU. The feature extractor's own normalisation setting is
honoured (wavlm-base-plus: ``do_normalize`` false, raw waveform in).
"""

from __future__ import annotations

import contextlib
import logging
import os

from ...errors import InvalidFileError, X3DError
from ..windows import conv_geometry
from .neural import WindowedModelEncoder
from .source import ModelSource, folder_fingerprint, resolve_model_source

log = logging.getLogger(__name__)

DEFAULT_HUB_ID = "microsoft/wavlm-base-plus"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _import_transformers():
    try:
        from transformers import Wav2Vec2FeatureExtractor, WavLMModel
    except ImportError as exc:
        raise X3DError(
            "the 'wavlm' encoder needs the transformers package: pip install 'transformers>=4.40'"
        ) from exc
    return Wav2Vec2FeatureExtractor, WavLMModel


@contextlib.contextmanager
def no_progress_bars():
    """transformers draws a 'Loading weights' bar per load; restore the host's setting afterwards."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


class WavLMEncoder(WindowedModelEncoder):
    """WavLM features (T, hidden_size), frozen, computed once per clip in overlapping windows.

    Args:
        model: model folder or hub id; None = the registered ``wavlm`` asset.
        device, window_seconds, overlap_seconds, batch_size, half: see :class:`WindowedModelEncoder`.
    """

    name = "wavlm"
    role = "linguistic"
    paper = True

    def __init__(self, model: str | os.PathLike | None = None, device=None, **window_kw) -> None:
        super().__init__(device=device, **window_kw)
        self.source: ModelSource = resolve_model_source("wavlm", model, ("config.json",))
        if self.source.path is not None and not any((self.source.path / f).exists() for f in WEIGHT_FILES):
            raise InvalidFileError(
                f"WavLM folder {self.source.path} has no weights ({' or '.join(WEIGHT_FILES)})"
            )
        FeatureExtractor, WavLMModel = _import_transformers()
        src = str(self.source.path) if self.source.path is not None else self.source.hub_id
        local = self.source.path is not None
        try:
            with no_progress_bars():
                net = WavLMModel.from_pretrained(src, local_files_only=local)
        except (OSError, ValueError, RuntimeError) as exc:
            raise InvalidFileError(f"cannot load WavLM from {self.source.label}: {str(exc).splitlines()[0]}") from exc
        if getattr(net.config, "model_type", "") != "wavlm":
            raise InvalidFileError(
                f"{self.source.label} holds a '{net.config.model_type}' model, not WavLM; give a WavLM folder"
            )
        try:
            self.feature_extractor = FeatureExtractor.from_pretrained(src, local_files_only=local)
        except OSError:
            # No preprocessor_config.json: WavLM checkpoints are trained on raw 16 kHz audio.
            log.warning("%s has no preprocessor_config.json; feeding the raw waveform (no normalisation)",
                        self.source.label)
            self.feature_extractor = FeatureExtractor(do_normalize=False)
        if self.feature_extractor.sampling_rate != 16000:
            raise InvalidFileError(f"{self.source.label} expects {self.feature_extractor.sampling_rate} Hz audio, not 16 kHz")
        net.eval().requires_grad_(False)
        self.model = net.to(self.device)
        self.receptive_field, self.hop = conv_geometry(list(zip(net.config.conv_kernel, net.config.conv_stride)))
        self._dim = int(net.config.hidden_size)
        fp = folder_fingerprint(self.source.path, ("config.json", *WEIGHT_FILES)) if local else self.source.hub_id
        self._identity = f"wavlm-v1-{fp}-norm{int(bool(self.feature_extractor.do_normalize))}"

    def _forward(self, batch):
        import torch

        if self.feature_extractor.do_normalize:
            # what Wav2Vec2FeatureExtractor does per utterance: zero mean, unit variance
            mean = batch.mean(dim=1, keepdim=True)
            var = batch.var(dim=1, keepdim=True, unbiased=False)
            batch = (batch - mean) / torch.sqrt(var + 1e-7)
        return self.model(input_values=batch).last_hidden_state
