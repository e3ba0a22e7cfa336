"""Flow-matching generator (paper §3.2, SPEC §3): network, flow matching, sampling, checkpoints.

Inference API::

    from x3dtalker_core.model import load_generator, generate_sequence
    gen = load_generator()                       # the registered "generator" asset, or a path/name
    seq = generate_sequence(gen, reference, features, steps=32, seed=0)
"""

from .checkpoint import available_checkpoints, read_checkpoint_header, save_checkpoint
from .config import PRESETS, FlowConfig, GeneratorConfig, ModelConfig, preset
from .generate import (
    GenerationCancelled, Generator, build_generator, check_features, generate_sequence, load_generator,
)
from .network import FlowTransformer
from .normalization import NormStats

__all__ = [
    "PRESETS", "FlowConfig", "FlowTransformer", "GenerationCancelled", "Generator", "GeneratorConfig", "ModelConfig",
    "NormStats",
    "available_checkpoints", "build_generator", "check_features", "generate_sequence", "load_generator",
    "preset", "read_checkpoint_header", "save_checkpoint",
]
