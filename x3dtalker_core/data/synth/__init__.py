"""Synthetic talking corpus: TTS speech with phone timings -> teacher jaw, ARKit face and head motion.

Quick use::

    from x3dtalker_core.data.synth import CorpusConfig, write_corpus
    manifest = write_corpus("synth_corpus", CorpusConfig(hours=0.05, seed=0), workers=2)

or ``python -m x3dtalker_core synth --out synth_corpus --hours 0.05``. See :mod:`.corpus` for the
layout and :mod:`.face` for the ARKit face teacher (lips, closure, blinks, brows).

Names are imported on first use, so the command line does not load torch (the ARKit layout lives
beside the FLAME model) just to build its parser.
"""

from __future__ import annotations

from ...lazy import lazy_exports

_EXPORTS = {
    "Augmentation": ".augment",
    "ClipRecipe": ".corpus",
    "CorpusConfig": ".corpus",
    "DEFAULT_VALIDATION_VOICES": ".tts",
    "DEFAULT_VOICES": ".tts",
    "Delivery": ".tts",
    "FaceStyle": ".face",
    "HeadStyle": ".head",
    "LIP_SHAPES": ".face",
    "PHONE_TO_VISEME": ".visemes",
    "Phone": ".tts",
    "STYLES": ".corpus",
    "SpeakingStyle": ".corpus",
    "Utterance": ".tts",
    "VISEME_CLASSES": ".visemes",
    "Vocabulary": ".text",
    "apply_augmentation": ".augment",
    "change_speed": ".augment",
    "check_voices": ".tts",
    "engine_available": ".tts",
    "face_track": ".face",
    "head_track": ".head",
    "jaw_track": ".visemes",
    "lip_shape_of": ".face",
    "load_vocabulary": ".text",
    "make_recipe": ".corpus",
    "make_sentence": ".text",
    "parse_voice": ".tts",
    "prominent_vowels": ".head",
    "relabel_corpus": ".corpus",
    "render_clip": ".corpus",
    "sample_augmentation": ".augment",
    "synthesize": ".tts",
    "viseme_of": ".visemes",
    "write_clip": ".corpus",
    "write_corpus": ".corpus",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
