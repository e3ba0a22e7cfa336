"""Head-pose presets that need no language model.

Each preset is a small set of curve expressions in the same language the language model writes
(:mod:`.dsl`), driven by the clip's audio cues (``env``, ``beat``, ``onset``, ``voice``) and filled
with seeded phases and slightly jittered frequencies/amplitudes, so two seeds give two takes of the
same style and one seed always gives the same take. Angles are degrees; see :mod:`.pose` for the axes
(pitch > 0 nods down, yaw > 0 turns to the subject's left, roll > 0 tilts to their right shoulder).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import X3DError
from .cues import AudioCues
from .pose import PoseLimits, PoseTrajectory, trajectory_from_expressions

Jitter = Callable[[float, float], str]
"""``j(value, spread)``: ``value`` jittered by ±``spread`` (relative), formatted as a literal."""


def _still(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    return {"pitch": "0", "yaw": "0", "roll": "0"}


def _calm(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    return {
        "pitch": f"{j(1.2, .1)}*sin(2*pi*{j(0.07, .15)}*t + {ph()}) + {j(1.0, .1)}*env(t)*voice(t)",
        "yaw": f"{j(2.5, .1)}*sin(2*pi*{j(0.05, .15)}*t + {ph()}) * (0.6 + 0.4*env(t))",
        "roll": f"{j(0.8, .1)}*sin(2*pi*{j(0.04, .15)}*t + {ph()})",
    }


def _gentle_sway(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    f, p = j(0.16, .15), ph()
    return {
        "pitch": f"{j(1.5, .1)}*sin(2*pi*{j(0.09, .15)}*t + {ph()}) + {j(1.2, .1)}*env(t)",
        "yaw": f"{j(6.0, .1)}*sin(2*pi*{f}*t + {p}) * (0.7 + 0.3*voice(t))",
        "roll": f"{j(3.5, .1)}*sin(2*pi*{f}*t + {p} + 0.6)",
    }


def _rhythmic_nods(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    return {
        "pitch": f"{j(5.0, .1)}*beat(t)*(0.4 + 0.6*voice(t)) + {j(1.0, .1)}*sin(2*pi*{j(0.1, .15)}*t + {ph()})",
        "yaw": f"{j(3.0, .1)}*sin(2*pi*{j(0.11, .15)}*t + {ph()})",
        "roll": f"{j(1.5, .1)}*sin(2*pi*{j(0.08, .15)}*t + {ph()})",
    }


def _energetic(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    return {
        "pitch": f"{j(6.0, .1)}*beat(t)*voice(t) + {j(3.0, .1)}*onset(t)"
                 f" + {j(2.0, .1)}*sin(2*pi*{j(0.23, .15)}*t + {ph()})",
        "yaw": f"{j(12.0, .1)}*sin(2*pi*{j(0.32, .15)}*t + {ph()}) * (0.5 + 0.5*env(t))",
        "roll": f"{j(4.5, .1)}*sin(2*pi*{j(0.27, .15)}*t + {ph()}) * (0.5 + 0.5*env(t))",
    }


def _stage_presenting(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    # Slow scans across an audience, chin slightly up, emphasis nods on loud beats.
    return {
        "pitch": f"-{j(2.0, .1)} + {j(4.0, .1)}*beat(t)*env(t) + {j(1.0, .1)}*sin(2*pi*{j(0.12, .15)}*t + {ph()})",
        "yaw": f"{j(18.0, .1)}*sin(2*pi*{j(0.06, .15)}*t + {ph()}) + {j(3.0, .1)}*sin(2*pi*{j(0.21, .15)}*t + {ph()})",
        "roll": f"{j(2.5, .1)}*sin(2*pi*{j(0.06, .15)}*t + {ph()})",
    }


def _thoughtful(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    return {
        "pitch": f"-{j(3.0, .1)} + {j(2.0, .1)}*sin(2*pi*{j(0.08, .15)}*t + {ph()})",
        "yaw": f"{j(4.0, .1)}*sin(2*pi*{j(0.05, .15)}*t + {ph()})",
        "roll": f"{j(6.0, .1)}*sin(2*pi*{j(0.04, .15)}*t + {ph()})",
    }


def _head_bob(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    # Music: a nod on every beat, side-to-side sway over two beats.
    return {
        "pitch": f"{j(7.0, .1)}*beat(t)",
        "yaw": f"{j(4.0, .1)}*sin(pi*bpm/60*t + {ph()})",
        "roll": f"{j(3.0, .1)}*sin(pi*bpm/60*t + {ph()} )",
    }


def _listening(j: Jitter, ph: Callable[[], str]) -> dict[str, str]:
    # Attentive: small acknowledging nods on beats while the voice pauses, a slight tilt.
    return {
        "pitch": f"{j(3.0, .1)}*beat(t)*(1 - voice(t)) + {j(0.8, .1)}*sin(2*pi*{j(0.1, .15)}*t + {ph()})",
        "yaw": f"{j(2.0, .1)}*sin(2*pi*{j(0.04, .15)}*t + {ph()})",
        "roll": f"{j(3.0, .1)} + {j(1.0, .1)}*sin(2*pi*{j(0.05, .15)}*t + {ph()})",
    }


_PRESETS: dict[str, tuple[Callable[[Jitter, Callable[[], str]], dict[str, str]], str]] = {
    "still": (_still, "no added motion: the model's own head motion only"),
    "calm": (_calm, "subtle, slow drift that follows speech energy"),
    "gentle_sway": (_gentle_sway, "soft side-to-side sway with a coupled tilt"),
    "rhythmic_nods": (_rhythmic_nods, "nods on the speech beats"),
    "energetic": (_energetic, "lively turns and beat nods, scaled by loudness"),
    "stage_presenting": (_stage_presenting, "slow wide scans of an audience, emphasis nods on loud beats"),
    "thoughtful": (_thoughtful, "head tilted, looking slightly up, slow drift"),
    "head_bob": (_head_bob, "music: a nod on every beat, sway over two beats"),
    "listening": (_listening, "attentive tilt, small nods in pauses"),
}
PRESETS: tuple[str, ...] = tuple(_PRESETS)
"""Preset names."""


def preset_description(name: str) -> str:
    return _PRESETS[_check(name)][1]


def _check(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in _PRESETS:
        raise X3DError(f"unknown head-pose preset '{name}'; choose one of: {', '.join(PRESETS)}")
    return key


def preset_expressions(name: str, seed: int = 0) -> dict[str, str]:
    """The curve expressions of preset ``name`` for ``seed`` (deterministic)."""
    key = _check(name)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, sum(map(ord, key))])

    def jitter(value: float, spread: float) -> str:
        return f"{value * (1.0 + spread * rng.uniform(-1.0, 1.0)):.4g}"

    def phase() -> str:
        return f"{rng.uniform(0.0, 2 * np.pi):.4f}"

    return _PRESETS[key][0](jitter, phase)


def preset_trajectory(
    name: str,
    cues: AudioCues,
    seed: int = 0,
    strength: float = 1.0,
    mode: str = "superimpose",
    limits: PoseLimits = PoseLimits(),
) -> PoseTrajectory:
    """The trajectory of preset ``name`` for a clip with these audio cues.

    Args:
        name: one of :data:`PRESETS` (spaces and dashes accepted for underscores).
        cues: the clip's audio cues (:meth:`AudioCues.silent` when there is no audio).
        seed: picks the take (phases, small frequency and amplitude variations).
        strength: multiplies the curves (the limits still hold).
        mode: ``superimpose`` or ``center``.
    """
    key = _check(name)
    if not (strength >= 0):
        raise X3DError(f"preset strength must be >= 0, got {strength}")
    expressions = preset_expressions(key, seed)
    meta = {"source": "preset", "preset": key, "seed": int(seed), "strength": float(strength)}
    return trajectory_from_expressions(expressions, cues, limits, mode=mode, metadata=meta, gain=strength)
