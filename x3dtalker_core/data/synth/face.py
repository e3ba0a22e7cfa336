"""Teacher face motion in ARKit shapes: coarticulated lip shapes, mouth closure, blinks and brows.

The development head's 47 expression directions are ARKit blendshapes
(:data:`~...flame.arkit.ARKIT_EXPRESSION_NAMES`, weight 1 = the full shape), so the teacher speaks
ARKit and the corpus records ``expression_space: "arkit"``; a real FLAME model gets the same lips
through :func:`~...flame.arkit.convert_expression`.

* **Lips**: every phone has a lip shape (closed and pressed on p/b/m, lower lip tucked on f/v,
  rounded on w/uw/uh, rounded-open on ow/oy/ao, protruded on sh/zh/ch/jh/r, spread on iy/ih/ey/y,
  stretched on open vowels), blended over time with the jaw's dominance coarticulation
  (:func:`.visemes.dominance_blend`): bilabials impose their closure on the neighbours, neutral
  consonants take their neighbours' shape, rounding reaches further ahead (anticipatory rounding).
* **Closure**: ARKit's ``mouthClose`` (lips together *against* an open jaw) follows the blended
  closure (bilabials and pauses) times :data:`SEAL` + :data:`CLOSE_PER_RAD` x the jaw opening, so a
  bilabial between open vowels seals even when the jaw has not fully risen, and the lips meet in
  pauses (inner-lip gap about 1 mm on the development head).
* **Blinks**: 15–20 a minute (per clip), 150–250 ms each, fast closing and slower opening; pauses
  of 0.25 s or more start one with probability 0.6 (people blink at phrase boundaries), and a
  Poisson process with a 0.8 s refractory time fills in the rest of the clip's rate.
* **Brows**: a raise (``browInnerUp`` + ``browOuterUp*``) peaking 150 ms after most stressed
  syllables (the prominent vowels the head teacher nods on).

Everything is a pure function of the phones, the nod onsets, the frame count, the articulation and
the generator, so the face of a written clip can be recomputed from its ``metadata.json``
(:func:`~.corpus.relabel_clip`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import FPS
from ...flame.arkit import ARKIT_EXPRESSION_NAMES
from .tts import SILENCE, Phone
from .visemes import dominance_blend, padded_phones

SEAL = 0.07
"""mouthClose weight that brings relaxed lips (1.5–3 mm apart at rest on the development head) together."""
CLOSE_PER_RAD = 3.0
"""Further mouthClose weight per radian of jaw opening that keeps them together (development head)."""


@dataclass(frozen=True)
class LipShape:
    """ARKit weights of one lip posture (symmetric shapes are named once, without Left/Right)."""

    name: str
    weights: dict[str, float]
    dominance: float
    reach: float
    closure: float = 0.0  # 1 = the lips must meet


LIP_SHAPES: dict[str, LipShape] = {s.name: s for s in (
    LipShape("rest", {}, 1.0, 0.035, 1.0),
    LipShape("closed", {"mouthPress": 0.45, "mouthRollUpper": 0.1, "mouthRollLower": 0.1}, 15.0, 0.02, 1.0),
    LipShape("tuck", {"mouthRollLower": 0.55, "mouthUpperUp": 0.2, "mouthShrugUpper": 0.1}, 4.0, 0.025),
    LipShape("rounded", {"mouthPucker": 0.7, "mouthFunnel": 0.3}, 2.0, 0.07),
    LipShape("round_open", {"mouthFunnel": 0.5, "mouthPucker": 0.3}, 1.2, 0.06),
    LipShape("protruded", {"mouthFunnel": 0.4, "mouthPucker": 0.25, "mouthShrugUpper": 0.1}, 1.5, 0.04),
    LipShape("spread", {"mouthStretch": 0.3, "mouthSmile": 0.2}, 1.0, 0.045),
    LipShape("open", {"mouthStretch": 0.2, "mouthLowerDown": 0.3, "mouthUpperUp": 0.1}, 1.0, 0.05),
    LipShape("neutral", {"mouthStretch": 0.05}, 0.3, 0.035),
)}

PHONE_TO_LIPS: dict[str, str] = {
    **{p: "rest" for p in (SILENCE, "sil", "h#", "brth", "#")},
    **{p: "closed" for p in ("p", "b", "m", "em")},
    **{p: "tuck" for p in ("f", "v")},
    **{p: "rounded" for p in ("w", "uw", "uh")},
    **{p: "round_open" for p in ("ow", "oy", "ao", "aw")},
    **{p: "protruded" for p in ("sh", "zh", "ch", "jh", "r", "er", "axr")},
    **{p: "spread" for p in ("iy", "ih", "ix", "ey", "y")},
    **{p: "open" for p in ("aa", "ae", "ah", "ay", "eh")},
}


def lip_shape_of(phone: str) -> LipShape:
    """The lip posture of an ARPAbet-like phone (consonants not listed: ``neutral``)."""
    return LIP_SHAPES[PHONE_TO_LIPS.get(phone.lower().rstrip("012"), "neutral")]


def _expand(weights: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    """(K,) weights over ``names``; a name without a side applies to both ``Left`` and ``Right``."""
    out = np.zeros(len(names))
    index = {n: i for i, n in enumerate(names)}
    for name, w in weights.items():
        for full in (name,) if name in index else (name + "Left", name + "Right"):
            out[index[full]] = w
    return out


@dataclass(frozen=True)
class FaceStyle:
    """Per-clip face style.

    Attributes:
        lips: factor on every lip shape (articulation).
        blink_rate: blinks per minute (background + boundary).
        brow: peak brow raise on the most prominent syllables.
        brow_share: share of stressed syllables that raise the brows.
    """

    lips: float = 1.0
    blink_rate: float = 17.0
    brow: float = 0.35
    brow_share: float = 0.6


def sample_face_style(rng: np.random.Generator, articulation: float = 1.0) -> FaceStyle:
    return FaceStyle(lips=float(np.clip(articulation * rng.uniform(0.85, 1.15), 0.5, 1.6)),
                     blink_rate=float(rng.uniform(15.0, 20.0)), brow=float(rng.uniform(0.2, 0.5)),
                     brow_share=float(rng.uniform(0.4, 0.8)))


def lip_tracks(phones, num_frames: int, jaw: np.ndarray, style: FaceStyle = FaceStyle(),
               names: tuple[str, ...] = ARKIT_EXPRESSION_NAMES, fps: float = FPS) -> np.ndarray:
    """(T, K) ARKit lip weights in [0, 1] from phone timings and the (T,) jaw opening (rad)."""
    out = np.zeros((num_frames, len(names)))
    phones = padded_phones(phones, num_frames, fps)
    if not phones:
        return out
    shapes = [lip_shape_of(p.name) for p in phones]
    targets = np.stack([_expand(s.weights, names) * style.lips for s in shapes])
    closure = np.array([s.closure for s in shapes])[:, None]
    blended = dominance_blend(phones, num_frames, np.concatenate([targets, closure], axis=1),
                              np.array([s.dominance for s in shapes]), np.array([s.reach for s in shapes]), fps)
    out[:] = blended[:, :-1]
    # Lips meet against whatever the jaw still opens.
    out[:, names.index("mouthClose")] = blended[:, -1] * (SEAL + CLOSE_PER_RAD * np.asarray(jaw, np.float64))
    return np.clip(out, 0.0, 1.0)


def blink_times(phones, duration: float, rng: np.random.Generator, rate_per_min: float,
                refractory: float = 0.8) -> list[tuple[float, float]]:
    """Blink (onset s, duration s) pairs: phrase-boundary blinks plus Poisson background blinks."""
    onsets: list[float] = []
    for p in phones:
        if p.name == SILENCE and p.end - p.start >= 0.25 and 0.0 < p.start < duration and rng.random() < 0.6:
            onsets.append(p.start + float(rng.uniform(0.0, 0.12)))
    target = rate_per_min / 60.0 * duration
    background_rate = max(target - len(onsets), 0.05 * duration) / duration  # per second
    t = float(rng.exponential(1.0 / background_rate)) * 0.5
    while t < duration:
        if all(abs(t - o) >= refractory for o in onsets):
            onsets.append(t)
        t += refractory + float(rng.exponential(max(1.0 / background_rate - refractory, 0.2)))
    onsets = sorted(o for o in onsets if o < duration)
    kept: list[float] = []
    for o in onsets:
        if not kept or o - kept[-1] >= refractory:
            kept.append(o)
    return [(o, float(rng.uniform(0.15, 0.25))) for o in kept]


def blink_curve(t: np.ndarray, onset: float, length: float) -> np.ndarray:
    """Lid closure in [0, 1]: raised-cosine closing over 40 % of ``length``, opening over the rest."""
    close = 0.4 * length
    x = t - onset
    rise = 0.5 - 0.5 * np.cos(np.pi * np.clip(x / close, 0, 1))
    fall = 0.5 + 0.5 * np.cos(np.pi * np.clip((x - close) / (length - close), 0, 1))
    return np.where(x < close, rise, fall) * ((x >= 0) & (x <= length))


def face_track(
    phones: tuple[Phone, ...] | list[Phone],
    jaw: np.ndarray,
    num_frames: int,
    stress_onsets: list[float] | tuple[float, ...],
    rng: np.random.Generator,
    style: FaceStyle = FaceStyle(),
    names: tuple[str, ...] = ARKIT_EXPRESSION_NAMES,
    fps: float = FPS,
) -> tuple[np.ndarray, dict]:
    """Teacher ARKit expression weights of one clip.

    Args:
        phones: phone timings (s).
        jaw: (T,) jaw opening (rad) from :func:`.visemes.jaw_track`.
        num_frames: T.
        stress_onsets: start times (s) of stressed syllables (brow raises).
        rng: seeded generator (the only randomness: blinks and brows).
        style: per-clip amplitudes and rates.
        names: the K expression columns (the ``"arkit"`` space by default).
    Returns:
        ((T, K) float32 weights in [0, 1], facts: blink and brow event times).
    """
    out = lip_tracks(phones, num_frames, jaw, style, names, fps)
    t = (np.arange(num_frames) + 0.5) / fps
    blinks = blink_times(phones, num_frames / fps, rng, style.blink_rate)
    lid = np.zeros(num_frames)
    for onset, length in blinks:
        # a frame shows the lid's mean over its 40 ms; sample four instants per frame
        sub = t[:, None] + (np.arange(4) - 1.5)[None] / (4 * fps)
        lid = np.maximum(lid, blink_curve(sub, onset, length).mean(axis=1) * rng.uniform(0.9, 1.0))
    for side in ("Left", "Right"):
        out[:, names.index("eyeBlink" + side)] = lid
    brows = [float(o) for o in stress_onsets if rng.random() < style.brow_share]
    raise_ = np.zeros(num_frames)
    for onset in brows:
        x = np.clip((t - onset) / 0.15, 0.0, None)
        raise_ += style.brow * rng.uniform(0.6, 1.2) * x * np.exp(1.0 - x)
    raise_ = np.clip(raise_, 0.0, 1.0)
    out[:, names.index("browInnerUp")] = raise_
    for side in ("Left", "Right"):
        out[:, names.index("browOuterUp" + side)] = 0.7 * raise_
    facts = {"blinks": [[round(o, 3), round(d, 3)] for o, d in blinks], "brow_raises": [round(o, 3) for o in brows]}
    return np.clip(out, 0.0, 1.0).astype(np.float32), facts
