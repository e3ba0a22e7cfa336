"""Fingerprints for caching and numbered output files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ...x3dtalker_core.errors import X3DError


def file_fingerprint(path: str | os.PathLike | None) -> str:
    """``path:mtime:size`` so ComfyUI recomputes when a file is replaced under the same name."""
    if path is None or str(path) == "":
        return ""
    try:
        st = os.stat(path)
    except OSError:
        return f"missing:{path}"
    return f"{os.path.abspath(path)}:{st.st_mtime_ns}:{st.st_size}"


def next_output_path(output_dir: str | os.PathLike, prefix: str, suffix: str) -> tuple[Path, str]:
    """A new ``<prefix>_NNNNN_<suffix>`` file under ``output_dir`` (ComfyUI's numbering).

    ``prefix`` may contain sub-folders (``3dxtalker/talk``); ``..`` is refused so nothing is written
    outside the output folder.

    Returns:
        The absolute path and the path relative to ``output_dir`` with forward slashes (what core
        ``Preview3D`` and ``/view`` take).
    """
    prefix = prefix.strip().replace("\\", "/") or "3dxtalker"
    if prefix.startswith("/") or ".." in prefix.split("/"):
        raise X3DError(f"filename_prefix '{prefix}' must stay inside the output folder (no '..' or absolute path)")
    root = Path(output_dir)
    sub, _, stem = prefix.rpartition("/")
    folder = root / sub if sub else root
    folder.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(rf"^{re.escape(stem)}_(\d{{5}})_{re.escape(suffix)}$")
    used = [int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name))]
    name = f"{stem}_{max(used, default=0) + 1:05d}_{suffix}"
    path = folder / name
    return path, (f"{sub}/{name}" if sub else name)
