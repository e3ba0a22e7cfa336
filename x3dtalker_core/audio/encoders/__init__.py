"""Frame encoders behind one interface, ``encoder.encode(waveform) -> (T, D)``.

- ``ppg`` (linguistic, 191-d): phonetic posteriorgrams from hama's phoneme recogniser (pip package,
  weights inside the wheel), the offline default; speaker-independent. Where hama cannot load,
  :func:`offline_linguistic_encoder` says so in one line and falls back to ``mel``.
- ``mel`` (linguistic, 320-d): built in, the fallback; WEAKER than the paper's WavLM.
- ``wavlm`` (linguistic, 768-d): the paper's; transformers; local folder or hub id.
- ``prosody`` (emotion, 10-d): built in, the offline default; WEAKER than the paper's emotion2vec.
- ``emotion2vec`` (emotion, 768-d): the paper's; FunASR; local folder (or a hub id when online).
"""

from __future__ import annotations

import logging
import os

from ...errors import X3DError
from .base import FrameEncoder
from .emotion2vec import Emotion2vecEncoder
from .mel import MelEncoder
from .ppg import PPGEncoder, ppg_unavailable
from .prosody import ProsodyEncoder
from .source import list_encoder_models
from .wavlm import WavLMEncoder

log = logging.getLogger(__name__)

LINGUISTIC_ENCODERS: dict[str, type[FrameEncoder]] = {"ppg": PPGEncoder, "mel": MelEncoder, "wavlm": WavLMEncoder}
EMOTION_ENCODERS: dict[str, type[FrameEncoder]] = {"prosody": ProsodyEncoder, "emotion2vec": Emotion2vecEncoder}
OFFLINE_DEFAULTS = {"linguistic": "ppg", "emotion": "prosody"}
FALLBACK_LINGUISTIC = "mel"
BUILT_IN = (PPGEncoder, MelEncoder, ProsodyEncoder)


def offline_linguistic_encoder() -> str:
    """``"ppg"`` where hama runs, else ``"mel"`` (with a one-line warning saying why)."""
    reason = ppg_unavailable()
    if reason is None:
        return OFFLINE_DEFAULTS["linguistic"]
    log.warning("%s; falling back to the %r encoder", reason, FALLBACK_LINGUISTIC)
    return FALLBACK_LINGUISTIC
PAPER_ENCODERS = {"linguistic": "wavlm", "emotion": "emotion2vec"}


def load_encoder(
    name: str, role: str, model: str | os.PathLike | None = None, device=None, **options
) -> FrameEncoder:
    """Build encoder ``name`` for ``role`` (``linguistic`` or ``emotion``).

    ``model`` (folder or hub id) and ``device`` apply to the pretrained encoders; ``options`` are
    passed to the encoder's constructor (window sizes, batch size, ...).
    """
    table = {"linguistic": LINGUISTIC_ENCODERS, "emotion": EMOTION_ENCODERS}.get(role)
    if table is None:
        raise ValueError(f"role must be 'linguistic' or 'emotion', got {role!r}")
    cls = table.get(str(name).lower())
    if cls is None:
        raise X3DError(f"unknown {role} encoder {name!r}; choose one of: {', '.join(table)}")
    if cls in BUILT_IN:
        if model:
            raise X3DError(f"the {name} encoder is built in and takes no model path (got {model})")
        return cls(**options)
    return cls(model=model, device=device, **options)


__all__ = [
    "FrameEncoder", "MelEncoder", "PPGEncoder", "ProsodyEncoder", "WavLMEncoder", "Emotion2vecEncoder",
    "LINGUISTIC_ENCODERS", "EMOTION_ENCODERS", "OFFLINE_DEFAULTS", "PAPER_ENCODERS", "FALLBACK_LINGUISTIC",
    "load_encoder", "list_encoder_models", "offline_linguistic_encoder", "ppg_unavailable",
]
