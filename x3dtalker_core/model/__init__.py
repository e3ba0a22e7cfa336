"""Flow-matching generator (paper §3.2, SPEC §3): network, flow matching, sampling, checkpoints.

Inference API::

    from x3dtalker_core.model import load_generator, generate_sequence
    gen = load_generator()                       # the registered "generator" asset, or a path/name
    seq = generate_sequence(gen, reference, features, steps=32, seed=0)

Names are imported on first use, so ``x3dtalker_core.model.config`` (plain dataclasses) loads without
torch — the command line's ``--help`` stays fast.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "available_checkpoints": ".checkpoint", "read_checkpoint_header": ".checkpoint", "save_checkpoint": ".checkpoint",
    "PRESETS": ".config", "FlowConfig": ".config", "GeneratorConfig": ".config", "ModelConfig": ".config",
    "preset": ".config",
    "GenerationCancelled": ".generate", "Generator": ".generate", "build_generator": ".generate",
    "check_features": ".generate", "generate_sequence": ".generate", "load_generator": ".generate",
    "FlowTransformer": ".network",
    "NormStats": ".normalization",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
