"""Teacher jaw motion from phone timings: viseme classes with dominance-function coarticulation.

Each phone belongs to a viseme class with a jaw-opening target (radians of FLAME jaw rotation about
x, positive = open) and a dominance (how strongly the phone imposes its target on its neighbours).
The jaw at time t is the dominance-weighted mean of all targets (Cohen & Massaro's coarticulation
model)::

    D_i(t) = alpha_i * exp(-d_i(t)^2 / (2 r_i^2)),   d_i(t) = distance from t to phone i (0 inside)
    jaw(t) = sum_i D_i(t) * target_i / sum_i D_i(t)

so bilabial closures (p, b, m: target 0, high dominance) close the mouth even between open vowels,
f/v open it a little, open vowels (aa, ae, aw, ...) widest, and silences (high dominance, target 0)
keep the mouth shut once a pause is long enough. The reach ``r_i`` (35-60 ms) lets a phone's
influence extend over about one neighbour on each side, which makes the motion anticipatory and
smooth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import FPS
from .tts import SILENCE, Phone


@dataclass(frozen=True)
class VisemeClass:
    """A viseme class: jaw target (rad), dominance, and the reach (s) of that dominance beyond the phone."""

    name: str
    jaw: float
    dominance: float
    reach: float


VISEME_CLASSES: dict[str, VisemeClass] = {c.name: c for c in (
    VisemeClass("silence", 0.0, 1.0, 0.035),
    VisemeClass("bilabial", 0.0, 15.0, 0.018),      # p b m: lips closed
    VisemeClass("labiodental", 0.03, 3.0, 0.025),    # f v: lower lip to upper teeth, jaw nearly closed
    VisemeClass("dental", 0.06, 1.0, 0.03),         # th dh
    VisemeClass("sibilant", 0.045, 1.5, 0.03),       # s z sh zh ch jh: teeth close together
    VisemeClass("alveolar", 0.075, 0.6, 0.035),      # t d n l
    VisemeClass("velar", 0.09, 0.5, 0.035),          # k g ng
    VisemeClass("rounded", 0.07, 1.0, 0.04),         # w r: rounded, small opening
    VisemeClass("glide", 0.06, 0.6, 0.04),           # y
    VisemeClass("aspirate", 0.10, 0.1, 0.04),        # hh: takes its shape from the next vowel
    VisemeClass("close_vowel", 0.085, 1.0, 0.05),    # iy ih uw uh
    VisemeClass("mid_vowel", 0.16, 1.0, 0.06),       # eh ey er ax ow oy
    VisemeClass("open_vowel", 0.26, 1.0, 0.05),      # aa ae ah ao aw ay
)}

PHONE_TO_VISEME: dict[str, str] = {
    **{p: "silence" for p in (SILENCE, "sil", "h#", "brth", "#")},
    **{p: "bilabial" for p in ("p", "b", "m", "em")},
    **{p: "labiodental" for p in ("f", "v")},
    **{p: "dental" for p in ("th", "dh")},
    **{p: "sibilant" for p in ("s", "z", "sh", "zh", "ch", "jh")},
    **{p: "alveolar" for p in ("t", "d", "n", "l", "el", "en", "dx", "nx")},
    **{p: "velar" for p in ("k", "g", "ng")},
    **{p: "rounded" for p in ("w", "r")},
    "y": "glide",
    "hh": "aspirate",
    **{p: "close_vowel" for p in ("iy", "ih", "uw", "uh", "ix")},
    **{p: "mid_vowel" for p in ("eh", "ey", "er", "ax", "axr", "ow", "oy")},
    **{p: "open_vowel" for p in ("aa", "ae", "ah", "ao", "aw", "ay")},
}


def viseme_of(phone: str) -> VisemeClass:
    """The viseme class of an ARPAbet-like phone name (unknown names: a neutral mid opening)."""
    return VISEME_CLASSES[PHONE_TO_VISEME.get(phone.lower().rstrip("012"), "alveolar")]


def frame_times(num_frames: int, fps: float = FPS) -> np.ndarray:
    """(T,) centre time of each frame in seconds (frame k covers [k, k+1) / fps)."""
    return (np.arange(num_frames) + 0.5) / fps


def dominance_blend(
    phones: tuple[Phone, ...] | list[Phone],
    num_frames: int,
    targets: np.ndarray,
    dominance: np.ndarray,
    reach: np.ndarray,
    fps: float = FPS,
    substeps: int = 4,
) -> np.ndarray:
    """Cohen–Massaro coarticulation of per-phone targets, averaged over each frame.

    Args:
        phones: P consecutive phones (times in s), silence phones added before the first and after
            the last by the caller (:func:`padded_phones`).
        targets: (P, C) target of each phone on each channel.
        dominance: (P,) or (P, C) strength of each phone.
        reach: (P,) or (P, C) Gaussian fall-off (s) of that strength beyond the phone's edges.
        substeps: evaluations per frame, averaged (a frame shows its 40 ms, not an instant).
    Returns:
        (T, C) float64: ``sum_i D_i(t) target_i / sum_i D_i(t)`` per channel.
    """
    t = ((np.arange(num_frames * substeps) + 0.5) / (fps * substeps))[:, None, None]  # (T*S, 1, 1)
    centre = np.array([(p.start + p.end) / 2 for p in phones])[None, :, None]
    half = np.array([(p.end - p.start) / 2 for p in phones])[None, :, None]
    c = targets.shape[1]
    alpha = np.broadcast_to(np.asarray(dominance, np.float64).reshape(len(phones), -1), (len(phones), c))[None]
    width = np.broadcast_to(np.asarray(reach, np.float64).reshape(len(phones), -1), (len(phones), c))[None]
    # Full dominance inside the phone, Gaussian fall-off beyond its edges: a long silence dominates
    # throughout (mouth shut) while a short pause only dips the jaw.
    dist = np.maximum(np.abs(t - centre) - half, 0.0)  # (T*S, P, 1)
    dom = alpha * np.exp(-0.5 * (dist / width) ** 2)  # (T*S, P, C)
    out = (dom * targets[None]).sum(axis=1) / (dom.sum(axis=1) + 1e-12)
    return out.reshape(num_frames, substeps, c).mean(axis=1)


def padded_phones(phones: tuple[Phone, ...] | list[Phone], num_frames: int, fps: float = FPS) -> list[Phone]:
    """Non-empty phones with silence before the first and after the last (to one second past the clip)."""
    phones = [p for p in phones if p.end > p.start]
    if not phones:
        return []
    horizon = num_frames / fps + 1.0
    return [Phone(SILENCE, -1.0, phones[0].start), *phones, Phone(SILENCE, phones[-1].end, max(horizon, phones[-1].end))]


def jaw_track(
    phones: tuple[Phone, ...] | list[Phone],
    num_frames: int,
    articulation: float = 1.0,
    fps: float = FPS,
    substeps: int = 4,
) -> np.ndarray:
    """Coarticulated jaw opening per frame.

    Args:
        phones: consecutive phones with times in seconds (silences named ``pau``).
        num_frames: T.
        articulation: factor on the open targets (style: lively speech opens wider).
        substeps: evaluations per frame, averaged (a frame shows its 40 ms, not an instant).
    Returns:
        (T,) float32 jaw rotation about x in radians (>= 0). Frames outside every phone are silence.
    """
    phones = padded_phones(phones, num_frames, fps)
    if not phones:
        return np.zeros(num_frames, np.float32)
    classes = [viseme_of(p.name) for p in phones]
    is_silence = np.array([c.name == "silence" for c in classes])
    target = (np.array([c.jaw for c in classes]) * np.where(is_silence, 1.0, articulation))[:, None]
    jaw = dominance_blend(phones, num_frames, target, np.array([c.dominance for c in classes]),
                          np.array([c.reach for c in classes]), fps, substeps)[:, 0]
    return np.clip(jaw, 0.0, None).astype(np.float32)
