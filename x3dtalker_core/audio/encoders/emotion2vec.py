"""``emotion2vec``: emotion2vec+ frame features (paper §3.2; 768-d at 50 Hz for ``emotion2vec_plus_base``).

Built through FunASR's ``AutoModel`` from a local folder in FunASR's format (``config.yaml`` +
``model.pt``; the registered ``emotion2vec`` asset by default), with ``disable_update=True``.
We check the folder ourselves first: given a missing path offline, FunASR retries the hub for
about 20 s and then reports a misleading "not registered" error.

Unlike the authors' code (which never leaves train mode, so dropout stays on), the network is in
``eval()`` with gradients off; the input is layer-normalised per window exactly when the model's
config says ``normalize`` (as FunASR's own ``inference`` does), the same at training and test.
Building a FunASR model resets torch's thread count and reseeds every global RNG; both are restored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random

import numpy as np

from ...errors import InvalidFileError, X3DError
from ..windows import conv_geometry
from .neural import WindowedModelEncoder
from .source import ModelSource, folder_fingerprint, resolve_model_source

log = logging.getLogger(__name__)

DEFAULT_HUB_ID = "iic/emotion2vec_plus_base"
REQUIRED_FILES = ("config.yaml", "model.pt")


def _import_funasr():
    try:
        from funasr import AutoModel
    except ImportError as exc:
        raise X3DError(
            "the 'emotion2vec' encoder needs FunASR: pip install funasr "
            "(or use --emotion prosody, the offline default)"
        ) from exc
    return AutoModel


@contextlib.contextmanager
def preserved_torch_state():
    """Restore torch's thread count and the torch/numpy/random RNG states after the block."""
    import torch

    threads = torch.get_num_threads()
    torch_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    np_rng = np.random.get_state()
    py_rng = random.getstate()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(torch_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        np.random.set_state(np_rng)
        random.setstate(py_rng)


def _check_weights(path, net) -> None:
    """FunASR only prints a warning for missing checkpoint weights and keeps them random; we refuse."""
    import torch

    try:
        state = torch.load(path / "model.pt", map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:  # pickle/zip errors of many kinds all mean "unreadable checkpoint"
        raise InvalidFileError(f"cannot read {path / 'model.pt'}: {exc}") from exc
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    # Only the weights feature extraction uses must be there: the pre-training decoder and the
    # classification head ("proj") may legitimately be absent from a release checkpoint.
    own = {k: v for k, v in net.state_dict().items() if ".decoder." not in k and not k.startswith("proj.")}
    missing = [k for k, v in own.items() if k not in state and f"module.{k}" not in state]
    wrong = [k for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or wrong:
        names = ", ".join((missing + wrong)[:3])
        raise InvalidFileError(
            f"{path / 'model.pt'} does not match {path / 'config.yaml'}: "
            f"{len(missing)} missing and {len(wrong)} mis-shaped weights (e.g. {names})"
        )


class Emotion2vecEncoder(WindowedModelEncoder):
    """emotion2vec frame features (T, embed_dim), frozen, computed once per clip in overlapping windows.

    Args:
        model: FunASR model folder or hub id (online only); None = the registered ``emotion2vec`` asset.
        device, window_seconds, overlap_seconds, batch_size, half: see :class:`WindowedModelEncoder`.
    """

    name = "emotion2vec"
    role = "emotion"
    paper = True

    def __init__(self, model: str | os.PathLike | None = None, device=None, **window_kw) -> None:
        super().__init__(device=device, **window_kw)
        self.source: ModelSource = resolve_model_source("emotion2vec", model, REQUIRED_FILES)
        src = str(self.source.path) if self.source.path is not None else self.source.hub_id
        kwargs = dict(model=src, disable_update=True, disable_pbar=True, disable_log=True, log_level="ERROR",
                      device=str(self.device))
        if self.source.hub_id is not None and self.source.hub_id.startswith("emotion2vec/"):
            kwargs["hub"] = "hf"
        with preserved_torch_state(), funasr_quiet():
            AutoModel = _import_funasr()
            try:
                auto = AutoModel(**kwargs)
            except Exception as exc:  # FunASR raises assorted types (AssertionError, RuntimeError, KeyError)
                raise InvalidFileError(
                    f"cannot build emotion2vec from {self.source.label}: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}"
                ) from exc
        net = auto.model
        if type(net).__name__ != "Emotion2vec":
            raise InvalidFileError(f"{self.source.label} holds a FunASR '{type(net).__name__}' model, not Emotion2vec")
        if self.source.path is not None:
            _check_weights(self.source.path, net)
        net.eval().requires_grad_(False)
        self.model = net.to(self.device)
        audio_enc = net.modality_encoders["AUDIO"]
        self.receptive_field, self.hop = conv_geometry([(k, s) for _, k, s in audio_enc.feature_enc_layers])
        self.normalize = bool(net.cfg.get("normalize", False))
        self._dim = int(net.cfg.get("embed_dim"))
        fp = folder_fingerprint(self.source.path, REQUIRED_FILES) if self.source.path else self.source.hub_id
        self._identity = f"emotion2vec-v1-{fp}"

    def _forward(self, batch):
        import torch.nn.functional as F

        if self.normalize:
            # FunASR's inference normalises each utterance over all its samples; here each window
            batch = F.layer_norm(batch, batch.shape[1:])
        return self.model.extract_features(batch, padding_mask=None)["x"]


@contextlib.contextmanager
def funasr_quiet():
    """Keep FunASR from configuring the host's logging and from printing to stdout.

    Importing funasr and building an ``AutoModel`` both call ``logging.basicConfig`` (INFO), which would install a root handler in an
    application that has none; a temporary NullHandler makes that call a no-op. Its import-time
    banners and per-key notices go to stdout, which is swallowed unless debug logging is on.
    """
    import io
    import sys

    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    saved = sys.stdout
    if not log.isEnabledFor(logging.DEBUG):
        sys.stdout = io.StringIO()
    try:
        yield
    finally:
        sys.stdout = saved
        if guard is not None:
            root.removeHandler(guard)
