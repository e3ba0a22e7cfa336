"""Audio-rich representation (paper §3.2, SPEC §2): loading, amplitude envelope, encoders, features."""

from .features import AudioFeatures

__all__ = ["AudioFeatures"]
