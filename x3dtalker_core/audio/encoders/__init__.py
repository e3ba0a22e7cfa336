"""Frame encoders behind one interface, ``encoder.encode(waveform) -> (T, D)``.

- ``mel`` (linguistic, 320-d): built in, the offline default; WEAKER than the paper's WavLM.
- ``wavlm`` (linguistic, 768-d): the paper's; transformers; local folder or hub id.
- ``prosody`` (emotion, 10-d): built in, the offline default; WEAKER than the paper's emotion2vec.
- ``emotion2vec`` (emotion, 768-d): the paper's; FunASR; local folder (or a hub id when online).
"""

from __future__ import annotations

import os

from ...errors import X3DError
from .base import FrameEncoder
from .emotion2vec import Emotion2vecEncoder
from .mel import MelEncoder
from .prosody import ProsodyEncoder
from .source import list_encoder_models
from .wavlm import WavLMEncoder

LINGUISTIC_ENCODERS: dict[str, type[FrameEncoder]] = {"mel": MelEncoder, "wavlm": WavLMEncoder}
EMOTION_ENCODERS: dict[str, type[FrameEncoder]] = {"prosody": ProsodyEncoder, "emotion2vec": Emotion2vecEncoder}
OFFLINE_DEFAULTS = {"linguistic": "mel", "emotion": "prosody"}
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
    if cls in (MelEncoder, ProsodyEncoder):
        if model:
            raise X3DError(f"the {name} encoder is built in and takes no model path (got {model})")
        return cls(**options)
    return cls(model=model, device=device, **options)


__all__ = [
    "FrameEncoder", "MelEncoder", "ProsodyEncoder", "WavLMEncoder", "Emotion2vecEncoder",
    "LINGUISTIC_ENCODERS", "EMOTION_ENCODERS", "OFFLINE_DEFAULTS", "PAPER_ENCODERS",
    "load_encoder", "list_encoder_models",
]
