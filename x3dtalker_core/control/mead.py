"""Paper derivation of emotion templates (App. D, Table 7): per-emotion mean expression codes.

Reads every sequence folder (dataset layout, SPEC §1) below a root, takes its emotion label from
the folder name (MEAD-style ``V2-M003-angry-00001``: any ``-``/``_``-separated token that is an
emotion name or alias, e.g. ``disgusted``, ``surprised``), and averages the expression codes of all
frames of all sequences of each emotion. Sums are accumulated in float64, so memory stays flat and
the result does not depend on the order the folders are read in beyond rounding.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import X3DError
from ..params import N_EXP
from .emotion import ALIASES, EMOTIONS, NEUTRAL, EmotionTemplates, canonical_emotion

LABELS = frozenset({*EMOTIONS, NEUTRAL, *ALIASES})


def emotion_label(folder_name: str) -> str | None:
    """Canonical emotion named in a folder name, or None (several different ones is an error)."""
    tokens = [t.lower() for t in re.split(r"[-_.\s]+", folder_name) if t]
    found = {canonical_emotion(t) for t in tokens if t in LABELS}
    found.discard("")
    if len(found) > 1:
        raise X3DError(f"folder name '{folder_name}' names several emotions: {sorted(found)}")
    return found.pop() if found else None


def derive_mean_templates(
    root: str | Path, include_neutral: bool = True, progress: bool = True
) -> EmotionTemplates:
    """Mean expression code per emotion over all frames of the labelled sequences below ``root``.

    Args:
        root: dataset folder (sequence folders anywhere below it).
        include_neutral: also store the mean of ``neutral`` sequences as the neutral template.
        progress: show a progress bar.

    Returns:
        Templates with metadata ``frames`` and ``sequences`` per emotion and the unlabelled count.
    """
    from tqdm import tqdm

    from ..data.layout import list_sequence_dirs, read_sequence_dir

    folders = list_sequence_dirs(root)
    if not folders:
        raise X3DError(f"no sequence folders (with posecode.npy) found below {root}")
    sums: dict[str, np.ndarray] = {}
    frames: dict[str, int] = {}
    sequences: dict[str, int] = {}
    unlabelled = 0
    for folder in tqdm(folders, desc="emotion templates", unit="seq", disable=not progress):
        label = emotion_label(folder.name)
        if label is None or (label == NEUTRAL and not include_neutral):
            unlabelled += label is None
            continue
        seq, _ = read_sequence_dir(folder)
        exp = seq.exp.astype(np.float64)
        sums[label] = sums.get(label, np.zeros(N_EXP)) + exp.sum(axis=0)
        frames[label] = frames.get(label, 0) + exp.shape[0]
        sequences[label] = sequences.get(label, 0) + 1
    if not sums:
        raise X3DError(
            f"none of the {len(folders)} sequence folders below {root} has an emotion in its name "
            f"(expected e.g. 'V2-M003-angry-00001'; labels: {', '.join(sorted(LABELS))})"
        )
    order = [e for e in (NEUTRAL, *EMOTIONS) if e in sums] + sorted(set(sums) - {NEUTRAL, *EMOTIONS})
    vectors = {name: (sums[name] / frames[name]).astype(np.float32) for name in order}
    return EmotionTemplates(vectors, {
        "method": "dataset-mean",
        "source": str(Path(root)),
        "frames": {k: frames[k] for k in order},
        "sequences": {k: sequences[k] for k in order},
        "unlabelled_sequences": unlabelled,
    })
