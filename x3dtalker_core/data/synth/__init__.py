"""Synthetic talking corpus: TTS speech with phone timings -> teacher jaw and head motion (issue #9).

Quick use::

    from x3dtalker_core.data.synth import CorpusConfig, write_corpus
    manifest = write_corpus("synth_corpus", CorpusConfig(hours=0.05, seed=0), workers=2)

or ``python -m x3dtalker_core synth --out synth_corpus --hours 0.05``. See :mod:`.corpus` for the
layout and for why expression coefficients stay zero.
"""

from .augment import Augmentation, apply_augmentation, change_speed, sample_augmentation
from .corpus import (
    STYLES,
    ClipRecipe,
    CorpusConfig,
    SpeakingStyle,
    make_recipe,
    render_clip,
    write_clip,
    write_corpus,
)
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
    "Augmentation",
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
