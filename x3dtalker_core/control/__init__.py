"""Decoupled plug-in control (paper §3.3, App. D-E; SPEC §5): emotion templates and head-pose curves.

* :mod:`.emotion`: templates, intensities, keyframes; :func:`apply_emotion` gives the per-frame
  reference expression the generator adds its deltas to.
* :mod:`.facs`: templates for the loaded FLAME model from FACS action-unit recipes (the default).
* :mod:`.mead`: the paper's templates, mean expression codes per emotion of a labelled dataset.
* :mod:`.pose`: :class:`PoseTrajectory` and its combination with the predicted head rotation.
* :mod:`.presets`, :mod:`.llm`: trajectories from presets or a language model (reply parsed by the
  safe curve language of :mod:`.dsl`, driven by the audio cues of :mod:`.cues`).
"""

from .cues import AudioCues
from .dsl import DSLError, evaluate_expression, parse_expression
from .emotion import (
    EMOTIONS,
    INTENSITY_LEVELS,
    EmotionControl,
    EmotionKeyframe,
    EmotionTemplates,
    apply_emotion,
    blend_expression,
    parse_keyframes,
    template_similarity,
)
from .llm import LLMError, OpenAIChatClient, TransformersChatBackend, build_messages, pose_from_llm
from .pose import COMBINE_MODES, PoseLimits, PoseTrajectory, condition_angles, trajectory_from_expressions
from .presets import PRESETS, preset_expressions, preset_trajectory

__all__ = [
    "AudioCues",
    "COMBINE_MODES",
    "DSLError",
    "EMOTIONS",
    "EmotionControl",
    "EmotionKeyframe",
    "EmotionTemplates",
    "INTENSITY_LEVELS",
    "LLMError",
    "OpenAIChatClient",
    "PRESETS",
    "PoseLimits",
    "PoseTrajectory",
    "TransformersChatBackend",
    "apply_emotion",
    "blend_expression",
    "build_messages",
    "condition_angles",
    "evaluate_expression",
    "parse_expression",
    "parse_keyframes",
    "pose_from_llm",
    "preset_expressions",
    "preset_trajectory",
    "template_similarity",
    "trajectory_from_expressions",
]
