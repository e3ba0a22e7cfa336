"""Where a pretrained encoder comes from: the asset registry, an explicit folder, or a hub id."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ...assets import ASSETS, find_asset, search_folders
from ...errors import AssetNotFoundError, X3DError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    """A local model folder (``path``) or a hub id (``hub_id``, only usable online)."""

    path: Optional[Path] = None
    hub_id: Optional[str] = None

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else str(self.hub_id)


def hub_offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in
               ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "X3DTALKER_OFFLINE"))


def resolve_model_source(asset_name: str, model: str | os.PathLike | None, required_files: tuple[str, ...]) -> ModelSource:
    """Resolve ``model`` (None = the registered asset; an existing folder; or a hub id ``org/name``).

    Raises:
        AssetNotFoundError: nothing registered, the folder does not exist or misses ``required_files``,
            or a hub id was given while offline.
    """
    desc = ASSETS[asset_name].description
    if model is None or str(model).strip() == "":
        path = find_asset(asset_name)
    else:
        text = str(model).strip()
        path = Path(text).expanduser()
        if not path.exists():
            looks_local = text.startswith((".", "/", "~", "\\")) or "\\" in text
            if _HUB_ID.match(text) and not looks_local:
                if hub_offline():
                    raise AssetNotFoundError(
                        f"{desc}: '{text}' is not a local folder and the hub is offline (HF_HUB_OFFLINE); "
                        f"download it once and pass its folder, or put it in one of "
                        f"{', '.join(str(p) for p in search_folders(ASSETS[asset_name].folder))}"
                    )
                return ModelSource(hub_id=text)
            raise AssetNotFoundError(f"{desc}: folder {path} does not exist")
    if not path.is_dir():
        raise AssetNotFoundError(f"{desc}: {path} is not a folder (expected a model folder with {', '.join(required_files)})")
    missing = [f for f in required_files if not (path / f).exists()]
    if missing:
        raise AssetNotFoundError(f"{desc}: folder {path} lacks {', '.join(missing)}; is it a complete download?")
    return ModelSource(path=path.resolve())


def folder_fingerprint(path: Path, names: tuple[str, ...]) -> str:
    """Cheap identity of a model folder: sizes and mtimes of its key files (cache keys; no hashing of GBs)."""
    h = hashlib.sha256(str(path).encode())
    for name in names:
        p = path / name
        if p.exists():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def list_encoder_models(kind: str) -> list[Path]:
    """Model folders of ``kind`` (``wavlm`` or ``emotion2vec``) found in the model search folders.

    A folder counts when it looks like that encoder: a transformers folder whose ``config.json``
    says ``"model_type": "wavlm"``, or a FunASR folder whose ``config.yaml`` names ``Emotion2vec``.
    Used by the encoder-loader node to fill its choice list.
    """
    if kind not in ("wavlm", "emotion2vec"):
        raise X3DError(f"unknown encoder kind {kind!r}; expected wavlm or emotion2vec")
    found: list[Path] = []
    for root in search_folders(ASSETS[kind].folder):
        if not root.is_dir():
            continue
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            if _looks_like(sub, kind) and sub not in found:
                found.append(sub)
    return found


def _looks_like(folder: Path, kind: str) -> bool:
    try:
        if kind == "wavlm":
            cfg = folder / "config.json"
            return cfg.is_file() and '"wavlm"' in cfg.read_text(encoding="utf-8", errors="replace")[:20000]
        cfg = folder / "config.yaml"
        return cfg.is_file() and "Emotion2vec" in cfg.read_text(encoding="utf-8", errors="replace")[:20000]
    except OSError:
        return False
