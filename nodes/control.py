"""Plug-in control nodes (paper §3.3): emotion templates/keyframes, head-pose presets and LLM curves."""

from __future__ import annotations

from comfy_api.latest import io, ui

from . import comfy_hooks as hooks
from .logic import control as logic
from .logic.files import file_fingerprint
from .types import AudioFeaturesType, CATEGORY, EmotionControlType, FlameModelType, PoseTrajectoryType

_TEMPLATES_TIP = ("Optional .npz/.json of 50-d emotion templates (missing emotions come from the FACS templates "
                  "of the FLAME model); empty = FACS templates.")


def _preset_names() -> list[str]:
    from ..x3dtalker_core.control import PRESETS

    return list(PRESETS)


def _blend_inputs() -> list:
    return [
        io.Float.Input("blend_weight", default=0.75, min=0.0, max=1.0, step=0.05, optional=True,
                       tooltip="Blend weight w between reference and template (authors' code: 0.75)."),
        io.Float.Input("transition_s", default=0.4, min=0.05, max=10.0, step=0.05, optional=True,
                       tooltip="Seconds each emotion change eases in (smooth, flicker-free)."),
    ]


class EmotionTemplate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_EmotionTemplate",
            display_name="Emotion Template",
            category=f"{CATEGORY}/Control",
            description="One emotion for the whole clip, at an intensity (paper: six levels; any float here).",
            inputs=[
                FlameModelType.Input("flame_model", tooltip="The FLAME model the templates are derived for."),
                io.Combo.Input("emotion", options=list(logic.EMOTION_NAMES), default="happy",
                               tooltip="One of the paper's seven emotions (or neutral)."),
                io.Float.Input("intensity", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="0 = reference, 1 = template, above 1 exaggerates."),
                io.String.Input("templates_file", default="", optional=True, tooltip=_TEMPLATES_TIP),
                *_blend_inputs(),
            ],
            outputs=[EmotionControlType.Output(display_name="emotion")],
        )

    @classmethod
    def fingerprint_inputs(cls, templates_file: str = "", **kwargs) -> str:
        return file_fingerprint(templates_file.strip() or None) + repr(sorted(kwargs.items(), key=str))

    @classmethod
    def execute(cls, flame_model, emotion: str, intensity: float, templates_file: str = "",
                blend_weight: float = 0.75, transition_s: float = 0.4) -> io.NodeOutput:
        templates = logic.emotion_templates(flame_model, templates_file or "")
        return io.NodeOutput(logic.emotion_constant(emotion, intensity, templates, blend_weight, transition_s))


class EmotionKeyframes(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_EmotionKeyframes",
            display_name="Emotion Keyframes",
            category=f"{CATEGORY}/Control",
            description="Emotions over time: 'time:emotion[:intensity]' entries, eased smoothly from one to the next.",
            inputs=[
                FlameModelType.Input("flame_model", tooltip="The FLAME model the templates are derived for."),
                io.String.Input("keyframes", default="0:neutral:0, 1.5:happy:1.5, 3.5:surprise:1", multiline=True,
                                tooltip="Comma/semicolon/newline separated 'seconds:emotion[:intensity]'; "
                                "intensity is a number or a level name."),
                io.String.Input("templates_file", default="", optional=True, tooltip=_TEMPLATES_TIP),
                *_blend_inputs(),
            ],
            outputs=[EmotionControlType.Output(display_name="emotion")],
        )

    @classmethod
    def fingerprint_inputs(cls, templates_file: str = "", **kwargs) -> str:
        return file_fingerprint(templates_file.strip() or None) + repr(sorted(kwargs.items(), key=str))

    @classmethod
    def execute(cls, flame_model, keyframes: str, templates_file: str = "", blend_weight: float = 0.75,
                transition_s: float = 0.4) -> io.NodeOutput:
        templates = logic.emotion_templates(flame_model, templates_file or "")
        return io.NodeOutput(logic.emotion_keyframes(keyframes, templates, blend_weight, transition_s))


def _pose_inputs() -> list:
    return [
        AudioFeaturesType.Input("features", optional=True,
                                tooltip="Audio features of the clip: sets its length and drives beat-synced motion."),
        io.Float.Input("duration_s", default=5.0, min=0.04, max=3600.0, step=0.04, optional=True,
                       tooltip="Clip length when no features are connected."),
        # Not called 'seed': ComfyUI's frontend gives every 'seed' input a control widget that defaults to
        # 'randomize', and a pose take should stay put until the user asks for another.
        io.Int.Input("variation", default=0, min=0, max=2**31 - 1, optional=True,
                     tooltip="Picks the take: the same number gives the same curves; change it for another."),
        io.Combo.Input("mode", options=list(logic.POSE_MODES), default="superimpose", optional=True,
                       tooltip="superimpose: add to the predicted head motion. center: replace its centre, keep "
                       "a scaled part of its own motion."),
    ]


def _pose_output(node_cls, traj) -> io.NodeOutput:
    status = hooks.show_status(node_cls, logic.pose_summary(traj))
    return io.NodeOutput(traj, logic.pose_plot(traj), ui=ui.PreviewText(status))


class HeadPosePreset(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_HeadPosePreset",
            display_name="Head Pose (preset)",
            category=f"{CATEGORY}/Control",
            description="Offline head-motion styles (no LLM): calm, gentle sway, rhythmic nods, energetic, ...",
            inputs=[
                io.Combo.Input("preset", options=_preset_names(), default="gentle_sway", tooltip="Motion style."),
                io.Float.Input("strength", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="Scales the curves (angle and speed limits still hold)."),
                *_pose_inputs(),
            ],
            outputs=[PoseTrajectoryType.Output(display_name="head_pose"), io.Image.Output(display_name="curves")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, preset: str, strength: float = 1.0, features=None, duration_s: float = 5.0, variation: int = 0,
                mode: str = "superimpose") -> io.NodeOutput:
        return _pose_output(cls, logic.pose_from_preset(preset, features, duration_s, variation, strength, mode))


class HeadPoseLLM(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_HeadPoseLLM",
            display_name="Head Pose (LLM)",
            category=f"{CATEGORY}/Control",
            description="A text prompt and the audio's rhythm -> smooth pitch/yaw/roll curves from any "
            "OpenAI-compatible chat endpoint (Ollama, LM Studio, vLLM, OpenAI). The reply is parsed by a safe "
            "curve language; an unusable reply falls back to a preset.",
            inputs=[
                io.String.Input("style", default="confident presenter, nods on key words", multiline=True,
                                tooltip="How the head should move."),
                io.String.Input("url", default="http://localhost:11434/v1",
                                tooltip="Base URL of an OpenAI-compatible endpoint (Ollama: :11434/v1)."),
                io.String.Input("model", default="llama3.1:8b", tooltip="Model name the endpoint serves."),
                io.String.Input("api_key_env", default="OPENAI_API_KEY", optional=True,
                                tooltip="NAME of the environment variable holding the key (the key itself is "
                                "never stored in the workflow); unset = no key (local servers)."),
                io.Combo.Input("fallback_preset", options=_preset_names(), default="calm", optional=True,
                               tooltip="Preset used when the endpoint is unreachable or the reply unusable."),
                io.Float.Input("temperature", default=0.2, min=0.0, max=2.0, step=0.05, optional=True,
                               tooltip="Sampling temperature."),
                *_pose_inputs(),
            ],
            outputs=[PoseTrajectoryType.Output(display_name="head_pose"), io.Image.Output(display_name="curves")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, style: str, url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                fallback_preset: str = "calm", temperature: float = 0.2, features=None, duration_s: float = 5.0,
                variation: int = 0, mode: str = "superimpose") -> io.NodeOutput:
        traj = logic.pose_from_llm(style, url, model, api_key_env or "", features, duration_s, variation, temperature,
                                   fallback_preset, "fallback", mode)
        return _pose_output(cls, traj)


NODES = [EmotionTemplate, EmotionKeyframes, HeadPosePreset, HeadPoseLLM]
