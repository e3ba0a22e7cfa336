"""Work units of a curation run: one input video, or several short clips stitched into one sequence.

Lab corpora (GRID, RAVDESS, MEAD) hold 3-5 s clips; the paper concatenates clips that share identity
and emotion into 10-20 s sequences (Appendix B.1, step 1). Which clips share them is read from their
paths: ``folder`` groups the clips of one folder (MEAD's ``M003/video/front/angry/level_1/``), a
regular expression groups clips by its named groups (RAVDESS ``..-..-(?P<emotion>..)-..-..-..-(?P<actor>..)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import X3DError


@dataclass(frozen=True)
class Unit:
    """What one curation item reads and writes.

    Attributes:
        id: stable name (relative path without extension; ``stitch/<group>/<k>`` for stitched units).
        sources: input videos, played one after another.
        inputs: their paths relative to the input folder (manifest row ids).
        group: the stitch group key, or None.
    """

    id: str
    sources: tuple[Path, ...]
    inputs: tuple[str, ...]
    group: str | None = None

    @property
    def out_name(self) -> str:
        """A flat file stem for the unit's outputs."""
        return re.sub(r"[^A-Za-z0-9._-]+", "__", self.id)


def relative_id(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def group_key(rel: str, stitch_by: str) -> str | None:
    """The stitch group of a relative path: its folder (``folder``) or the regex's named groups."""
    if stitch_by == "folder":
        parent = Path(rel).parent.as_posix()
        return parent if parent != "." else "root"
    try:
        m = re.search(stitch_by, rel)
    except re.error as exc:
        raise X3DError(f"bad --stitch pattern {stitch_by!r}: {exc}") from None
    if m is None:
        return None
    parts = m.groupdict() or {str(i): g for i, g in enumerate(m.groups(), 1)} or {"0": m.group(0)}
    return "-".join(f"{k}={v}" for k, v in sorted(parts.items()))


def pack_group(durations: list[float], min_s: float, max_s: float) -> list[list[int]]:
    """Greedy packing of clips (in order) into runs of ``min_s``..``max_s`` seconds where possible.

    A run closes once it reaches ``min_s``; a clip that would push a complete-enough run past
    ``max_s`` starts a new one. The last run may stay short (the duration filter then rejects it).
    """
    runs: list[list[int]] = []
    cur: list[int] = []
    total = 0.0
    for i, d in enumerate(durations):
        if cur and total >= min_s and total + d > max_s:
            runs.append(cur)
            cur, total = [], 0.0
        cur.append(i)
        total += d
        if total >= min_s:
            runs.append(cur)
            cur, total = [], 0.0
    if cur:
        runs.append(cur)
    return runs


def plan_units(videos: list[Path], root: Path, stitch_by: str | None = None,
               durations: dict[Path, float] | None = None, min_s: float = 10.0, max_s: float = 20.0) -> list[Unit]:
    """Units for every input; with ``stitch_by``, clips of a group are packed into 10-20 s sequences.

    ``durations`` (seconds per path) is needed only when stitching. Paths that match no group (regex
    mode) stay single units.
    """
    if not stitch_by:
        return [Unit(relative_id(p, root).rsplit(".", 1)[0], (p,), (relative_id(p, root),)) for p in videos]
    groups: dict[str, list[Path]] = {}
    units: list[Unit] = []
    for p in videos:
        key = group_key(relative_id(p, root), stitch_by)
        if key is None:
            units.append(Unit(relative_id(p, root).rsplit(".", 1)[0], (p,), (relative_id(p, root),)))
        else:
            groups.setdefault(key, []).append(p)
    for key, paths in sorted(groups.items()):
        runs = pack_group([durations[p] for p in paths], min_s, max_s)
        for k, run in enumerate(runs):
            members = tuple(paths[i] for i in run)
            units.append(Unit(f"stitch/{key}/{k:03d}", members, tuple(relative_id(p, root) for p in members), key))
    return sorted(units, key=lambda u: u.id)
