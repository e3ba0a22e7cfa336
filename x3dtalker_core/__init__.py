"""x3dtalker_core: the 3DXTalker library (image + speech -> expressive FLAME talking head).

Usable without ComfyUI: the CLI (``python -m x3dtalker_core``), the Python API and training all
live here. This package never imports ComfyUI; the ``nodes`` package adapts it.
"""

__version__ = "0.1.0"

FPS = 25
"""Frame rate of every parameter sequence (SPEC §1)."""

SAMPLE_RATE = 16_000
"""Audio sample rate of every feature extractor (SPEC §1)."""

SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
"""640 audio samples per motion frame."""
