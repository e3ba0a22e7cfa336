"""Synthetic talking corpus: TTS speech with phone timings -> teacher jaw, ARKit face and head motion.

Quick use::

    from x3dtalker_core.data.synth import CorpusConfig, write_corpus
    manifest = write_corpus("synth_corpus", CorpusConfig(hours=0.05, seed=0), workers=2)

or ``python -m x3dtalker_core synth --out synth_corpus --hours 0.05``. See :mod:`.corpus` for the
layout and :mod:`.face` for the ARKit face teacher (lips, closure, blinks, brows).
"""

from .augment import Augmentation, apply_augmentation, change_speed, sample_augmentation
from .corpus import (
    STYLES,
    ClipRecipe,
    CorpusConfig,
    SpeakingStyle,
    make_recipe,
    relabel_corpus,
    render_clip,
    write_clip,
    write_corpus,
)
from .face import LIP_SHAPES, FaceStyle, face_track, lip_shape_of
from .head import HeadStyle, head_track, prominent_vowels
from .text import Vocabulary, load_vocabulary, make_sentence
from .tts import (
    DEFAULT_VALIDATION_VOICES,
    DEFAULT_VOICES,
    Delivery,
    Phone,
    Utterance,
    check_voices,
    engine_available,
    parse_voice,
    synthesize,
)
from .visemes import PHONE_TO_VISEME, VISEME_CLASSES, jaw_track, viseme_of

__all__ = [
    "DEFAULT_VALIDATION_VOICES",
    "DEFAULT_VOICES",
    "PHONE_TO_VISEME",
    "STYLES",
    "VISEME_CLASSES",
    "LIP_SHAPES",
    "Augmentation",
    "FaceStyle",
    "ClipRecipe",
    "CorpusConfig",
    "Delivery",
    "HeadStyle",
    "Phone",
    "SpeakingStyle",
    "Utterance",
    "Vocabulary",
    "apply_augmentation",
    "change_speed",
    "check_voices",
    "engine_available",
    "face_track",
    "lip_shape_of",
    "relabel_corpus",
    "head_track",
    "jaw_track",
    "load_vocabulary",
    "make_recipe",
    "make_sentence",
    "parse_voice",
    "prominent_vowels",
    "render_clip",
    "sample_augmentation",
    "synthesize",
    "viseme_of",
    "write_clip",
    "write_corpus",
]
