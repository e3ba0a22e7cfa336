"""Lip-sync measures the way people judge it, from the decoded mesh and the phones' timings.

Phones come from the synthetic corpus (its metadata) or from forced alignment of real read speech
(:mod:`.align`). The mouth opening is the **inner-lip gap**: the mean distance between three pairs
of FLAME vertices on the upper and lower inner lip (midline and either side; FLAME's topology is the
same in every FLAME model, so the pairs are fixed indices). Measures:

* ``bilabial_closure``: share of p/b/m phones during which the gap falls below 3 mm (lips shut);
* ``open_bilabial_ratio``: mean gap on open vowels over the mean gap on bilabials (each phone's
  frames);
* ``gap_opening_r``: Pearson r of the gap with the phones' coarticulated opening curve (the viseme
  table's jaw targets, :func:`~..data.synth.visemes.jaw_track`);
* ``pauses_closed``: share of pauses of 0.3 s or more whose inner frames (100 ms in from each edge)
  have a median gap below 3 mm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import FPS
from ..data.synth.tts import SILENCE, Phone
from ..data.synth.visemes import jaw_track, viseme_of
from .metrics import pearson_r

INNER_LIP_PAIRS: tuple[tuple[int, int], ...] = ((3531, 3504), (2786, 2938), (1669, 1849))
"""(upper, lower) inner-lip vertices on FLAME's 5023-vertex topology (MediaPipe points 13/14, 82/87, 312/317)."""
CLOSED_MM = 3.0
MIN_PAUSE_S = 0.3
PAUSE_EDGE_S = 0.1
BILABIALS = ("p", "b", "m", "em")


def inner_lip_gap(vertices: np.ndarray) -> np.ndarray:
    """(T, 5023, 3) metres -> (T,) inner-lip gap in mm."""
    v = np.asarray(vertices, np.float64)
    upper = v[:, [a for a, _ in INNER_LIP_PAIRS]]
    lower = v[:, [b for _, b in INNER_LIP_PAIRS]]
    return np.linalg.norm(upper - lower, axis=-1).mean(axis=1) * 1000.0


def phone_frames(phone: Phone, num_frames: int, fps: float = FPS) -> np.ndarray:
    """Indices of the frames whose centre lies in the phone (the nearest frame for very short phones)."""
    centres = (np.arange(num_frames) + 0.5) / fps
    idx = np.flatnonzero((centres >= phone.start) & (centres < phone.end))
    if idx.size == 0:
        idx = np.array([min(max(int((phone.start + phone.end) / 2 * fps), 0), num_frames - 1)])
    return idx


def lipsync_counts(gap: np.ndarray, phones: tuple[Phone, ...] | list[Phone], fps: float = FPS) -> dict[str, Any]:
    """Per-clip counts and sums behind the measures (pooled over clips by :func:`pool_lipsync`).

    Args:
        gap: (T,) inner-lip gap in mm.
        phones: phone timings in seconds (``pau`` = silence).
    """
    gap = np.asarray(gap, np.float64)
    t = gap.size
    phones = [p for p in phones if p.end > p.start and p.start < t / fps]
    bil = [phone_frames(p, t, fps) for p in phones if p.name in BILABIALS]
    opn = [phone_frames(p, t, fps) for p in phones if viseme_of(p.name).name == "open_vowel"]
    pauses = [p for p in phones if p.name == SILENCE and p.end - p.start >= MIN_PAUSE_S]
    pause_closed = []
    for p in pauses:
        inner = Phone(SILENCE, p.start + PAUSE_EDGE_S, min(p.end - PAUSE_EDGE_S, t / fps))
        if inner.end > inner.start:
            pause_closed.append(bool(np.median(gap[phone_frames(inner, t, fps)]) < CLOSED_MM))
    opening = jaw_track(phones, t)
    return {
        "bilabials": len(bil), "bilabials_closed": int(sum(gap[i].min() < CLOSED_MM for i in bil)),
        "bilabial_gap_sum": float(sum(gap[i].mean() for i in bil)),
        "open_vowels": len(opn), "open_gap_sum": float(sum(gap[i].mean() for i in opn)),
        "pauses": len(pause_closed), "pauses_closed": int(sum(pause_closed)),
        "gap_opening_r": pearson_r(gap, opening),
    }


def pool_lipsync(counts: list[dict[str, Any]]) -> dict[str, Any]:
    """The four measures over clips: shares and the ratio pooled over phones, r averaged over clips."""
    total = {k: sum(c[k] for c in counts) for k in ("bilabials", "bilabials_closed", "bilabial_gap_sum",
                                                     "open_vowels", "open_gap_sum", "pauses", "pauses_closed")}
    rs = [c["gap_opening_r"] for c in counts if c.get("gap_opening_r") is not None]
    bil_gap = total["bilabial_gap_sum"] / total["bilabials"] if total["bilabials"] else None
    open_gap = total["open_gap_sum"] / total["open_vowels"] if total["open_vowels"] else None
    return {
        "bilabial_closure": total["bilabials_closed"] / total["bilabials"] if total["bilabials"] else None,
        "open_bilabial_ratio": open_gap / bil_gap if bil_gap and open_gap is not None else None,
        "gap_opening_r": float(np.mean(rs)) if rs else None,
        "pauses_closed": total["pauses_closed"] / total["pauses"] if total["pauses"] else None,
        "bilabial_gap_mm": bil_gap, "open_vowel_gap_mm": open_gap,
        "n_bilabials": total["bilabials"], "n_open_vowels": total["open_vowels"], "n_pauses": total["pauses"],
    }


def lipsync_scores(gap: np.ndarray, phones, fps: float = FPS) -> dict[str, Any]:
    """The four measures of one clip (see the module docstring)."""
    return pool_lipsync([lipsync_counts(gap, phones, fps)])
