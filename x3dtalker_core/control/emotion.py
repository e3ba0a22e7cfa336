"""Emotion control (paper §3.3, App. D; SPEC §5): templates, intensities and keyframes.

A template is an absolute 50-d FLAME expression code for one emotion. Applying it moves the
reference expression toward it (the authors' Eq. 9 with blend weight ``w = 0.75``)::

    intensity λ <= 1:  e = ref + λ · w · (template − ref)      (0 leaves the reference unchanged)
    intensity λ >= 1:  e = w · (λ · template) + (1 − w) · ref  (the authors' form, exactly)

The two branches meet at λ = 1, so the control is continuous in λ and λ = 0 is the identity for
every emotion (the authors' form alone would shrink the reference to 25 % at λ = 0). The generator
adds its predicted deltas to this modified reference.

Temporal control: keyframes ``(time, emotion, intensity)``. From each keyframe's time the expression
eases (smoothstep) from wherever it is toward that keyframe's target over ``transition_s`` seconds
(never less than :data:`MIN_TRANSITION_S`); a keyframe at time 0 applies at once. The per-frame change
is therefore at most ``1.5 · |target − start| / (transition_s · fps)`` — no flicker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .. import FPS
from ..errors import InvalidFileError, X3DError
from ..io_utils import atomic_path, save_npz
from ..params import N_EXP

EMOTIONS: tuple[str, ...] = ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")
"""The seven emotions of the paper, in its order."""
NEUTRAL = "neutral"

ALIASES: dict[str, str] = {
    "anger": "angry", "mad": "angry", "disgusted": "disgust", "fearful": "fear", "afraid": "fear",
    "scared": "fear", "happiness": "happy", "joy": "happy", "joyful": "happy", "sadness": "sad",
    "surprised": "surprise", "natural": "neutral", "none": "neutral", "calm": "neutral",
    "contemptuous": "contempt",
}
"""Other spellings (MEAD folder names, the authors' CLI labels) -> canonical names."""

INTENSITY_LEVELS: dict[str, float] = {
    "subtle": 0.4, "light": 0.7, "moderate": 1.0, "strong": 1.3, "intense": 1.6, "extreme": 2.0,
}
"""The six named intensity levels (the authors' CLI documents 1.0-2.0; lower levels added for subtlety)."""

DEFAULT_BLEND_WEIGHT = 0.75
DEFAULT_TRANSITION_S = 0.8
MIN_TRANSITION_S = 0.2
EASING_MAX_SLOPE = 1.5
"""Largest derivative of smoothstep on [0, 1]; bounds the per-frame change of a transition."""

TEMPLATE_FORMAT = "x3dtalker-emotion-templates"


def canonical_emotion(name: str) -> str:
    """Lower-case canonical name (aliases resolved); does not check that a template exists."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key, key)


def parse_intensity(value: float | str) -> float:
    """A number >= 0 or one of the level names in :data:`INTENSITY_LEVELS`."""
    if isinstance(value, str):
        key = value.strip().lower()
        if key in INTENSITY_LEVELS:
            return INTENSITY_LEVELS[key]
        try:
            value = float(key)
        except ValueError:
            raise X3DError(
                f"intensity '{value}' is neither a number nor a level ({', '.join(INTENSITY_LEVELS)})"
            ) from None
    v = float(value)
    if not np.isfinite(v) or v < 0 or v > 5:
        raise X3DError(f"emotion intensity must be between 0 and 5, got {value}")
    return v


# -- templates -------------------------------------------------------------------------------
@dataclass(frozen=True)
class EmotionTemplates:
    """Named 50-d expression templates (``neutral`` is the zero code unless given).

    Attributes:
        vectors: canonical emotion name -> (50,) float32 absolute expression code.
        metadata: JSON-able provenance (method, FLAME model hash, source data, fit residuals).
    """

    vectors: Mapping[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean: dict[str, np.ndarray] = {}
        for name, vec in self.vectors.items():
            key = canonical_emotion(name)
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key):
                raise X3DError(f"emotion template name '{name}' must be letters, digits or '_' (max 40)")
            arr = np.asarray(vec, dtype=np.float32).reshape(-1)
            if arr.shape != (N_EXP,):
                raise X3DError(f"emotion template '{name}' must have {N_EXP} values, got {arr.size}")
            if not np.all(np.isfinite(arr)):
                raise X3DError(f"emotion template '{name}' contains NaN or infinite values")
            clean[key] = arr
        object.__setattr__(self, "vectors", clean)
        try:
            json.dumps(self.metadata)
        except TypeError as exc:
            raise X3DError(f"template metadata must be JSON-serialisable: {exc}") from None

    @property
    def names(self) -> tuple[str, ...]:
        """Available names, ``neutral`` included."""
        return tuple(dict.fromkeys([NEUTRAL, *self.vectors]))

    def get(self, name: str) -> np.ndarray:
        """(50,) template of ``name`` (aliases accepted)."""
        key = canonical_emotion(name)
        if key in self.vectors:
            return self.vectors[key]
        if key == NEUTRAL:
            return np.zeros(N_EXP, np.float32)
        raise X3DError(f"unknown emotion '{name}'; available: {', '.join(self.names)}")

    def with_template(self, name: str, vector: np.ndarray) -> EmotionTemplates:
        """A copy with ``name`` added or replaced (user templates)."""
        return EmotionTemplates({**self.vectors, name: vector}, dict(self.metadata))

    def merged(self, other: EmotionTemplates) -> EmotionTemplates:
        """A copy with every template of ``other`` added (other wins on equal names)."""
        meta = {**self.metadata, "merged": [*self.metadata.get("merged", []), other.metadata.get("method", "user")]}
        return EmotionTemplates({**self.vectors, **other.vectors}, meta)

    # -- IO --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``.npz`` (one (50,) array per name + ``__metadata__`` JSON) or ``.json``, atomically."""
        path = Path(path)
        if path.suffix == ".json":
            doc = {"format": TEMPLATE_FORMAT, "version": 1, "dim": N_EXP,
                   "templates": {k: [round(float(x), 7) for x in v] for k, v in self.vectors.items()},
                   "metadata": self.metadata}
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(doc, indent=1))
        elif path.suffix == ".npz":
            save_npz(path, __metadata__=np.asarray(json.dumps(self.metadata)), **self.vectors)
        else:
            raise X3DError(f"emotion templates are saved as .npz or .json, not '{path.suffix}' ({path})")
        return path

    @classmethod
    def load(cls, path: str | Path) -> EmotionTemplates:
        """Read a file written by :meth:`save` (or any npz of (50,) arrays / JSON {name: [50 numbers]})."""
        path = Path(path)
        if not path.is_file():
            raise X3DError(f"emotion template file not found: {path}")
        try:
            if path.suffix == ".json":
                doc = json.loads(path.read_text())
                if not isinstance(doc, dict):
                    raise InvalidFileError(f"{path}: expected a JSON object")
                vectors = doc.get("templates", doc if "format" not in doc else None)
                if not isinstance(vectors, dict):
                    raise InvalidFileError(f"{path}: no 'templates' object")
                meta = doc.get("metadata", {}) if "templates" in doc else {}
                return cls({k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()}, meta)
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["__metadata__"])) if "__metadata__" in z.files else {}
                return cls({k: z[k] for k in z.files if k != "__metadata__"}, meta)
        except (OSError, ValueError, TypeError) as exc:
            if isinstance(exc, X3DError):
                raise InvalidFileError(f"{path}: {exc}") from None
            raise InvalidFileError(f"cannot read emotion templates {path}: {exc}") from None


# -- application -----------------------------------------------------------------------------
def blend_expression(
    reference: np.ndarray, template: np.ndarray, intensity: float, weight: float = DEFAULT_BLEND_WEIGHT
) -> np.ndarray:
    """The reference expression moved toward ``template`` at ``intensity`` (see module docstring).

    Args:
        reference: (..., 50) expression code(s).
        template: (50,) template.
        intensity: λ >= 0.
        weight: blend weight w in [0, 1] (authors: 0.75).
    """
    ref = np.asarray(reference, dtype=np.float64)
    tpl = np.asarray(template, dtype=np.float64)
    lam = float(intensity)
    if lam <= 1.0:
        return ref + lam * weight * (tpl - ref)
    return weight * lam * tpl + (1.0 - weight) * ref


@dataclass(frozen=True)
class EmotionKeyframe:
    """From ``time`` seconds on, move toward ``emotion`` at ``intensity``."""

    time: float
    emotion: str
    intensity: float = 1.0


def parse_keyframes(text: str) -> tuple[EmotionKeyframe, ...]:
    """Parse ``"0:neutral:0, 2.5:happy:1.5, 5:sad:strong"`` (commas, semicolons or new lines).

    Each entry is ``time:emotion[:intensity]``; time in seconds (a trailing ``s`` is allowed),
    intensity a number or a level name (default 1.0). Names are checked later against the templates.
    """
    entries = [e.strip() for e in re.split(r"[,;\n]+", str(text)) if e.strip()]
    if not entries:
        raise X3DError("the emotion keyframe list is empty; write e.g. '0:neutral:0, 2.5:happy:1.5'")
    keys = []
    for entry in entries:
        parts = [p.strip() for p in entry.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise X3DError(f"emotion keyframe '{entry}' must be 'time:emotion' or 'time:emotion:intensity'")
        try:
            time = float(parts[0][:-1] if parts[0].lower().endswith("s") else parts[0])
        except ValueError:
            raise X3DError(f"emotion keyframe '{entry}': '{parts[0]}' is not a time in seconds") from None
        intensity = parse_intensity(parts[2]) if len(parts) == 3 else 1.0
        keys.append(EmotionKeyframe(time, canonical_emotion(parts[1]), intensity))
    return tuple(keys)


@dataclass(frozen=True)
class EmotionControl:
    """What emotion to show when: keyframes plus the templates and blend settings.

    Attributes:
        keyframes: strictly increasing in time, times >= 0.
        templates: the templates the keyframes name.
        blend_weight: w of the blend (0.75 as in the authors' code).
        transition_s: easing time of each change (>= :data:`MIN_TRANSITION_S`).
    """

    keyframes: tuple[EmotionKeyframe, ...]
    templates: EmotionTemplates
    blend_weight: float = DEFAULT_BLEND_WEIGHT
    transition_s: float = DEFAULT_TRANSITION_S

    def __post_init__(self) -> None:
        keys = tuple(self.keyframes)
        if not keys:
            raise X3DError("an emotion control needs at least one keyframe")
        known = set(self.templates.names)
        previous = None
        for k in keys:
            if not np.isfinite(k.time) or k.time < 0:
                raise X3DError(f"emotion keyframe time must be >= 0 seconds, got {k.time}")
            if canonical_emotion(k.emotion) not in known:
                raise X3DError(
                    f"unknown emotion '{k.emotion}' in keyframes; available: {', '.join(self.templates.names)}"
                )
            parse_intensity(k.intensity)
            if previous is not None and k.time <= previous:
                raise X3DError(
                    f"emotion keyframes must be in increasing time order: {k.time:g} s comes after {previous:g} s"
                )
            previous = k.time
        object.__setattr__(self, "keyframes", keys)
        if not 0.0 <= self.blend_weight <= 1.0:
            raise X3DError(f"emotion blend weight must be in [0, 1], got {self.blend_weight}")
        if not (self.transition_s >= MIN_TRANSITION_S):
            raise X3DError(f"emotion transition time must be >= {MIN_TRANSITION_S} s, got {self.transition_s}")

    @classmethod
    def constant(
        cls, emotion: str, intensity: float | str, templates: EmotionTemplates, **kwargs: Any
    ) -> EmotionControl:
        """One emotion for the whole clip."""
        return cls((EmotionKeyframe(0.0, canonical_emotion(emotion), parse_intensity(intensity)),), templates, **kwargs)

    @classmethod
    def from_text(cls, text: str, templates: EmotionTemplates, **kwargs: Any) -> EmotionControl:
        """Keyframes from text (:func:`parse_keyframes`)."""
        return cls(parse_keyframes(text), templates, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (for reports and metadata)."""
        return {
            "keyframes": [[k.time, k.emotion, k.intensity] for k in self.keyframes],
            "blend_weight": self.blend_weight, "transition_s": self.transition_s,
            "templates": self.templates.metadata.get("method", "user"),
        }


def _smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def apply_emotion(
    reference: np.ndarray, control: EmotionControl, num_frames: int, fps: float = FPS
) -> np.ndarray:
    """Per-frame reference expression under ``control``.

    Args:
        reference: (50,) reference expression, or (T, 50) per-frame expressions to modify.
        control: the emotion keyframes and templates.
        num_frames: T.
        fps: frame rate.

    Returns:
        (T, 50) float32 expressions (the generator adds its predicted deltas to row t at frame t).
    """
    if num_frames < 1:
        raise X3DError(f"num_frames must be >= 1, got {num_frames}")
    ref = np.asarray(reference, dtype=np.float64)
    if ref.shape == (N_EXP,):
        ref = np.broadcast_to(ref, (num_frames, N_EXP))
    elif ref.shape != (num_frames, N_EXP):
        raise X3DError(f"reference expression must be ({N_EXP},) or ({num_frames}, {N_EXP}), got {ref.shape}")
    times = np.arange(num_frames) / fps
    out = np.array(ref, dtype=np.float64)
    weight, duration = control.blend_weight, control.transition_s
    # Each keyframe eases from the value the clip has at its start time toward its own target.
    start = ref.copy()  # per-frame "where we come from": the running value before this keyframe
    for i, key in enumerate(control.keyframes):
        target = blend_expression(ref, control.templates.get(key.emotion), key.intensity, weight)
        t0 = key.time
        t1 = control.keyframes[i + 1].time if i + 1 < len(control.keyframes) else np.inf
        seg = (times >= t0) & (times < t1)
        if not np.any(seg):
            if t0 > times[-1]:
                break
            continue
        if i == 0 and t0 == 0.0:
            u = np.ones(int(seg.sum()))
        else:
            u = _smoothstep((times[seg] - t0) / duration)
        # The start of this transition is the running value at t0 (continuous across keyframes).
        # With a static reference it is one vector; with per-frame references, follow them.
        first = np.argmax(seg)
        origin = out[first - 1] - ref[first - 1] + ref[seg] if first > 0 else start[seg]
        out[seg] = origin + u[:, None] * (target[seg] - origin)
    return out.astype(np.float32)


# -- Table 3 analogue ------------------------------------------------------------------------
def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


def template_similarity(templates: EmotionTemplates, produced: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Paper Table 3 analogue: cosine(template, mean expression produced under it), per emotion.

    Args:
        templates: the templates used.
        produced: emotion -> (T, 50) or (50,) expressions the pipeline produced under that emotion.
    """
    return {
        canonical_emotion(name): cosine_similarity(templates.get(name), np.asarray(exp).reshape(-1, N_EXP).mean(0))
        for name, exp in produced.items()
    }
