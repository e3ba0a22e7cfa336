"""Custom socket types that flow between 3DXTalker nodes."""

from comfy_api.latest import io

FlameModelType = io.Custom("FLAME_MODEL")
"""A loaded ``x3dtalker_core.flame.FlameModel``."""
FlameParamsType = io.Custom("FLAME_PARAMS")
"""An ``x3dtalker_core.params.FlameParams`` (one frame, e.g. the reference)."""
FlameSequenceType = io.Custom("FLAME_SEQUENCE")
"""An ``x3dtalker_core.params.FlameSequence`` (T frames at 25 fps)."""
AudioFeaturesType = io.Custom("AUDIO_FEATURES")
"""An ``x3dtalker_core.audio.AudioFeatures``."""
GeneratorType = io.Custom("X3D_GENERATOR")
"""A loaded 3DXTalker flow-matching generator."""
EmotionControlType = io.Custom("EMOTION_CONTROL")
PoseTrajectoryType = io.Custom("POSE_TRAJECTORY")

CATEGORY = "3DXTalker"
