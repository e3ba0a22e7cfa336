"""Audio-rich representation (paper §3.2, SPEC §2): loading, amplitude envelope, encoders, features.

Quick use::

    from x3dtalker_core.audio import extract_features
    feats = extract_features("speech.wav")                                   # offline: mel + prosody
    feats = extract_features("speech.wav", linguistic="wavlm", emotion="emotion2vec")  # the paper's

The offline defaults ``mel`` and ``prosody`` need no download but are WEAKER than the paper's
WavLM and emotion2vec encoders (see :mod:`.encoders`).
"""

from .encoders import (
    EMOTION_ENCODERS,
    LINGUISTIC_ENCODERS,
    OFFLINE_DEFAULTS,
    PAPER_ENCODERS,
    FrameEncoder,
    list_encoder_models,
    load_encoder,
)
from .envelope import amplitude_envelope, envelope_extrema, frame_amplitude
from .extract import extract_features
from .features import AudioFeatures
from .io import fit_to_frames, load_audio, num_frames_for
from .windows import EncodingCancelled

__all__ = [
    "AudioFeatures", "extract_features", "load_audio", "fit_to_frames", "num_frames_for",
    "amplitude_envelope", "frame_amplitude", "envelope_extrema",
    "FrameEncoder", "load_encoder", "list_encoder_models", "EncodingCancelled",
    "LINGUISTIC_ENCODERS", "EMOTION_ENCODERS", "OFFLINE_DEFAULTS", "PAPER_ENCODERS",
]
