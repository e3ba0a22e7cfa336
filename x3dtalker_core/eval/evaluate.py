"""Score predicted FLAME sequences against ground truth (or audio alone): per clip, then averaged.

A clip is scored from its parameters (T, 284), decoded to meshes with one FLAME model, and its audio:

* with ground truth: LVE, MVE, UFVE, UFDD (:mod:`.metrics`) and the jaw's Pearson r to the
  ground-truth jaw (how well a model reproduces a teacher);
* always: BA, jaw-envelope r and the share of silent frames with the mouth closed.

Averages are plain means over clips (like the authors, not per dataset); metrics a clip cannot have
(no ground truth, no silence) are left out of that metric's mean and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import SAMPLE_RATE
from ..errors import X3DError
from ..params import HEAD_POSE, JAW_POSE, PARAM_DIM, SHAPE
from . import metrics as M

UNITS = {
    "spec": {"LVE": "mm", "MVE": "mm", "UFVE": "mm", "UFDD": "mm"},
    "authors": {"LVE": "m^2", "MVE": "m", "UFVE": "m", "UFDD": "m"},
}
DEFINITIONS = {
    "LVE": "per-frame max lip-vertex L2 (authors: squared), mean over frames",
    "MVE": "mean vertex L2 over all vertices and frames",
    "UFVE": "mean L2 over forehead + eye_region + nose vertices",
    "UFDD": "|upper-face dynamics(GT) - dynamics(pred)| (spec: temporal std; authors: spatial std)",
    "BA": "beat alignment of head motion to audio beats, higher is better",
    "jaw_gt_r": "Pearson r of predicted vs ground-truth jaw opening",
    "jaw_envelope_r": "Pearson r of jaw opening vs per-frame audio envelope",
    "closed_in_silence": "share of silent frames (< -20 dB) with jaw opening < 0.04 rad",
}


LIPSYNC_ROWS = ("bilabial_closure", "open_bilabial_ratio", "gap_opening_r", "pauses_closed", "bilabial_gap_mm",
                "open_vowel_gap_mm", "n_bilabials", "n_open_vowels", "n_pauses")


@dataclass
class ClipInput:
    """One clip to score.

    Attributes:
        name: clip id (its path relative to the data root).
        pred: (T, 284) predicted parameters.
        audio: (N,) 16 kHz speech.
        gt: (T', 284) ground truth, or None (real speech without motion capture).
    """

    name: str
    pred: np.ndarray
    audio: np.ndarray
    gt: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Scorer:
    """Holds the FLAME model and masks; scores clips in one mode or both."""

    def __init__(self, flame_model, masks: dict[str, np.ndarray], modes: tuple[str, ...] = ("spec", "authors"),
                 device: str | None = None):
        for m in modes:
            M._check_mode(m)
        self.model = flame_model
        self.masks = masks
        self.modes = modes
        self.device = device
        self.lips = np.asarray(masks["lips"], np.int64)
        self.upper = {m: M.upper_face_indices(masks, m) for m in modes}

    def decode(self, params: np.ndarray) -> np.ndarray:
        from ..flame import vertices_for_sequence

        return vertices_for_sequence(self.model, np.ascontiguousarray(params, np.float32), device=self.device)

    def _neutral(self, shape: np.ndarray) -> np.ndarray:
        p = np.zeros((1, PARAM_DIM), np.float32)
        p[0, SHAPE] = shape
        return self.decode(p)[0]

    def score(self, clip: ClipInput, beats: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
        """Scores of one clip: ``{"name", "frames", "<mode>": {metric: value}, ...}``."""
        from ..audio import amplitude_envelope, frame_amplitude

        pred = np.asarray(clip.pred, np.float32)
        amplitude = frame_amplitude(amplitude_envelope(clip.audio))[:, 0]
        t = min(len(pred), len(clip.gt) if clip.gt is not None else len(pred))
        pred = pred[:t]
        out: dict[str, Any] = {"name": clip.name, "frames": int(t), **clip.extra}
        common = {
            "jaw_envelope_r": M.pearson_r(pred[:, JAW_POSE.start], amplitude),
            "closed_in_silence": M.closed_mouth_share(pred[:, JAW_POSE.start], amplitude),
        }
        if clip.gt is not None:
            gt = np.asarray(clip.gt, np.float32)[:t]
            common["jaw_gt_r"] = M.pearson_r(pred[:, JAW_POSE.start], gt[:, JAW_POSE.start])
            common["jaw_envelope_r_gt"] = M.pearson_r(gt[:, JAW_POSE.start], amplitude)
            common["closed_in_silence_gt"] = M.closed_mouth_share(gt[:, JAW_POSE.start], amplitude)
            vp, vg = self.decode(pred), self.decode(gt)
            neutral_pred, neutral_gt = self._neutral(pred[0, SHAPE]), self._neutral(gt[0, SHAPE])
            template = self.model.v_template.detach().cpu().numpy()
        beats = beats or {}
        for mode in self.modes:
            scores: dict[str, Any] = {}
            if clip.gt is not None:
                scores["LVE"] = M.lve(vp, vg, self.lips, mode)
                scores["MVE"] = M.mve(vp, vg, mode)
                scores["UFVE"] = M.ufve(vp, vg, self.upper[mode], mode)
                refs = (neutral_pred, neutral_gt) if mode == "spec" else (template, template)
                scores["UFDD"] = M.ufdd(vp, vg, refs[0], refs[1], self.upper[mode], mode)
            audio_beats = beats.get(mode)
            if audio_beats is None and mode == "spec":
                audio_beats = M.speech_beats(amplitude)
            elif audio_beats is None:
                try:
                    audio_beats = M.librosa_beats(clip.audio, SAMPLE_RATE)
                except X3DError as exc:  # librosa is optional: report the gap instead of failing the run
                    out.setdefault("notes", []).append(str(exc))
            if t >= 3 and audio_beats is not None:
                scores["BA"] = M.beat_alignment(pred[:, HEAD_POSE], audio_beats)
                if clip.gt is not None:
                    scores["BA_gt"] = M.beat_alignment(gt[:, HEAD_POSE], audio_beats)
            out[mode] = scores
        out.update(common)
        return out


def summarize(per_clip: list[dict[str, Any]], modes: tuple[str, ...]) -> dict[str, Any]:
    """Means over clips of every metric (None values skipped; ``n_<metric>`` counts the clips used)."""
    summary: dict[str, Any] = {"clips": len(per_clip), "frames": int(sum(c["frames"] for c in per_clip))}

    def mean_of(values: list) -> tuple[float | None, int]:
        vals = [v for v in values if v is not None]
        return (float(np.mean(vals)) if vals else None), len(vals)

    for mode in modes:
        keys = sorted({k for c in per_clip for k in c.get(mode, {})})
        summary[mode] = {}
        for k in keys:
            summary[mode][k], _ = mean_of([c[mode].get(k) for c in per_clip if mode in c])
    for k in ("jaw_gt_r", "jaw_envelope_r", "jaw_envelope_r_gt", "closed_in_silence", "closed_in_silence_gt"):
        value, n = mean_of([c.get(k) for c in per_clip])
        if n:
            summary[k] = value
            summary[f"n_{k}"] = n
    return summary


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown_table(report: dict[str, Any]) -> str:
    """A Markdown table of the summary: one row per metric, one column per mode."""
    summary, modes = report["summary"], tuple(report["modes"])
    lines = [f"Clips: {summary['clips']}, frames: {summary['frames']}", "",
             "| metric | " + " | ".join(modes) + " | definition |",
             "|---|" + "---|" * len(modes) + "---|"]
    metrics = sorted({k for m in modes for k in summary.get(m, {})}, key=lambda k: list(DEFINITIONS).index(k)
                     if k in DEFINITIONS else 99)
    for k in metrics:
        cells = [f"{_fmt(summary[m].get(k))} {UNITS[m].get(k, '')}".strip() for m in modes]
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {DEFINITIONS.get(k, 'same on the ground truth')} |")
    for k in ("jaw_gt_r", "jaw_envelope_r", "jaw_envelope_r_gt", "closed_in_silence", "closed_in_silence_gt"):
        if k in summary:
            lines.append(f"| {k} | " + " | ".join([_fmt(summary[k])] * len(modes))
                         + f" | {DEFINITIONS.get(k, 'same on the ground truth')} |")
    lips = report.get("lipsync")
    if lips:
        gt = report.get("lipsync_gt") or {}
        lines += ["", "| lip sync (inner-lip gap on the mesh) | prediction | teacher |" if gt else
                  "| lip sync (inner-lip gap on the mesh) | prediction |", "|---|---|---|" if gt else "|---|---|"]
        for k in LIPSYNC_ROWS:
            cells = [_fmt(lips.get(k))] + ([_fmt(gt.get(k))] if gt else [])
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    timing = report.get("throughput")
    if timing:
        lines += ["", "| stage | seconds | frames/s |", "|---|---|---|"]
        for stage, t in timing.items():
            lines.append(f"| {stage} | {t['seconds']:.3f} | {_fmt(t['fps'])} |")
    return "\n".join(lines) + "\n"
