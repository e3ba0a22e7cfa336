"""Plug-in controls: emotion templates/keyframes and head-pose trajectories (presets or an LLM)."""

from __future__ import annotations

import numpy as np
import torch

from ...x3dtalker_core import FPS
from ...x3dtalker_core.errors import X3DError

from ...x3dtalker_core.control.emotion import EMOTIONS, NEUTRAL

EMOTION_NAMES = (NEUTRAL, *EMOTIONS)
POSE_MODES = ("superimpose", "center")


def emotion_templates(flame_model=None, templates_file: str = ""):
    """The templates: a user ``.npz``/``.json`` file (completed from FACS), else FACS templates of the model."""
    from ...x3dtalker_core.control.facs import resolve_templates

    path = templates_file.strip() or None
    return resolve_templates(path, model=flame_model)


def emotion_constant(emotion: str, intensity: float, templates, blend_weight: float = 0.75,
                     transition_s: float = 0.4):
    """One emotion for the whole clip."""
    from ...x3dtalker_core.control import EmotionControl

    return EmotionControl.constant(emotion, float(intensity), templates, blend_weight=float(blend_weight),
                                   transition_s=float(transition_s))


def emotion_keyframes(text: str, templates, blend_weight: float = 0.75, transition_s: float = 0.4):
    """``"0:neutral:0, 2.5:happy:1.5, 5:sad:strong"`` -> keyframed emotion control."""
    from ...x3dtalker_core.control import EmotionControl

    return EmotionControl.from_text(text, templates, blend_weight=float(blend_weight),
                                    transition_s=float(transition_s))


def audio_cues(features=None, duration_s: float = 5.0):
    """Cues of the clip the trajectory is for: from audio features, else silent cues of ``duration_s``."""
    from ...x3dtalker_core.control import AudioCues

    if features is not None:
        return AudioCues.from_amplitude(features.amplitude[:, 0], features.fps)
    if not duration_s > 0:
        raise X3DError(f"duration must be positive when no audio features are connected, got {duration_s}")
    return AudioCues.silent(max(1, round(duration_s * FPS)))


def pose_from_preset(preset: str, features=None, duration_s: float = 5.0, seed: int = 0, strength: float = 1.0,
                     mode: str = "superimpose"):
    from ...x3dtalker_core.control import preset_trajectory

    return preset_trajectory(preset, audio_cues(features, duration_s), seed=int(seed), strength=float(strength),
                             mode=mode)


def pose_from_llm(style: str, url: str, model: str, api_key_env: str = "OPENAI_API_KEY", features=None,
                  duration_s: float = 5.0, seed: int = 0, temperature: float = 0.2, fallback_preset: str = "calm",
                  on_error: str = "fallback", mode: str = "superimpose", timeout_s: float = 60.0):
    """A trajectory from any OpenAI-compatible chat endpoint (key read from ``api_key_env`` at call time).

    The reply is parsed by the safe curve language; an unusable reply falls back to
    ``fallback_preset`` with the reason in the trajectory's metadata (or fails, ``on_error="fail"``).
    """
    from ...x3dtalker_core.control import OpenAIChatClient
    from ...x3dtalker_core.control import pose_from_llm as run

    if not style.strip():
        raise X3DError("describe the head-motion style (e.g. 'calm news anchor, small nods')")
    client = OpenAIChatClient(url, model, api_key_env=api_key_env.strip() or "OPENAI_API_KEY", timeout_s=timeout_s)
    return run(style, audio_cues(features, duration_s), client, seed=int(seed), temperature=float(temperature),
               on_error=on_error, fallback_preset=fallback_preset, mode=mode)


def pose_plot(trajectory, width: int = 640, height: int = 240) -> torch.Tensor:
    """(1, H, W, 3) IMAGE of pitch (red), yaw (blue), roll (green) over time."""
    from ...x3dtalker_core.control.plot import plot_pose_curves

    return torch.from_numpy(np.ascontiguousarray(plot_pose_curves(trajectory, width, height)))[None]


def pose_summary(trajectory) -> str:
    deg = trajectory.degrees
    span = np.abs(deg).max(axis=0)
    text = (f"{trajectory.num_frames} frames, max |pitch| {span[0]:.1f}, |yaw| {span[1]:.1f}, "
            f"|roll| {span[2]:.1f} deg ({trajectory.metadata.get('source', '?')})")
    warning = trajectory.metadata.get("warning")
    return text + (f"; warning: {warning}" if warning else "")
