"""Manifests, sharding and resume for the data jobs (``curate``, ``lift``).

Each job appends one JSON line per finished item to its shard's manifest file, after the item's
outputs are in place (written atomically). A killed run therefore resumes by skipping every item
that has a row; a half-written output never exists. Shard ``i/n`` owns the items whose stable key
hash falls in residue ``i`` modulo ``n``, so a SLURM array (``--shard $SLURM_ARRAY_TASK_ID/N``), Ray
tasks or Kubernetes indexed jobs fan out without coordination and each writes its own file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ...errors import X3DError


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based)."""

    index: int = 0
    count: int = 1

    def owns(self, key: str) -> bool:
        """Whether the item named ``key`` belongs to this shard (stable across runs and machines)."""
        digest = hashlib.sha1(key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    @property
    def suffix(self) -> str:
        return "" if self.count == 1 else f"-{self.index:05d}-of-{self.count:05d}"


def parse_shard(text: str | None) -> Shard:
    """``"i/n"`` (0 <= i < n) -> :class:`Shard`; None or empty -> the whole job."""
    if not text:
        return Shard()
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise X3DError(f"bad --shard {text!r}: use i/n, e.g. 0/4 (i counts from 0)") from None
    if n < 1 or not 0 <= i < n:
        raise X3DError(f"bad --shard {text!r}: need 0 <= i < n")
    return Shard(i, n)


class Manifest:
    """The rows of one job folder: this shard's file to append to, every shard's rows to read.

    Files: ``<out>/<stem>.jsonl`` (unsharded) or ``<out>/<stem>-IIIII-of-NNNNN.jsonl``.
    """

    def __init__(self, out: str | Path, stem: str = "manifest", shard: Shard = Shard()) -> None:
        self.out = Path(out)
        self.stem = stem
        self.path = self.out / f"{stem}{shard.suffix}.jsonl"

    def files(self) -> list[Path]:
        return sorted(self.out.glob(f"{self.stem}*.jsonl"))

    def rows(self) -> list[dict]:
        """Every finished row of every shard (a torn last line from a kill is ignored)."""
        rows = []
        for path in self.files():
            for line in path.read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that item is simply redone
        return rows

    def done(self) -> set[str]:
        return {row["id"] for row in self.rows() if "id" in row}

    def append(self, row: dict) -> None:
        """Append one row and flush it to disk before the next item starts."""
        self.out.mkdir(parents=True, exist_ok=True)
        line = json.dumps(row, sort_keys=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            if f.tell() > 0 and not self._ends_with_newline():
                f.write("\n")  # after a torn line, start a fresh one
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) == b"\n"
