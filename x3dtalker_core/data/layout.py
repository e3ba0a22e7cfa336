"""One sequence folder in the released 3DTalkingDataset layout (SPEC §1).

::

    <clip>/audio.wav         16 kHz mono speech
    <clip>/shapecode.npy     (T, 100)
    <clip>/expcode.npy       (T, 50)
    <clip>/posecode.npy      (T, 6)   head axis-angle (3) + jaw axis-angle (3)
    <clip>/detailcode.npy    (T, 128)
    <clip>/cam.npy           (T, 3)   orthographic scale, tx, ty (optional here)
    <clip>/envelope.npy      (N,)     sample-level Hilbert envelope (optional here)
    <clip>/metadata.json     our own facts about the clip (the released data has metadata.pkl)

Every writer in the project (synthetic corpus, curation, lifting) produces this layout, so one
reader serves all data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import FPS, SAMPLE_RATE
from ..errors import InvalidFileError
from ..io_utils import atomic_dir
from ..params import N_CAM, N_DETAIL, N_EXP, N_POSE, N_SHAPE, FlameSequence

GROUP_FILES = {"shapecode.npy": N_SHAPE, "expcode.npy": N_EXP, "posecode.npy": N_POSE, "detailcode.npy": N_DETAIL}
REQUIRED_FILES = ("shapecode.npy", "expcode.npy", "posecode.npy")


def _read_npy(path: Path, width: int) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidFileError(f"cannot read {path}: {exc}") from None
    if arr.ndim != 2 or arr.shape[1] != width:
        raise InvalidFileError(f"{path} must have shape (T, {width}), got {arr.shape}")
    return arr.astype(np.float32, copy=False)


def read_sequence_dir(path: str | Path) -> tuple[FlameSequence, Path | None]:
    """Read one clip folder.

    Returns:
        The parameters as a :class:`FlameSequence` (cam included when ``cam.npy`` exists; metadata
        from ``metadata.json``) and the path of ``audio.wav`` (None when absent).
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InvalidFileError(f"sequence folder not found: {folder}")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise InvalidFileError(f"{folder} is not a sequence folder: missing {', '.join(missing)}")
    groups = {}
    for name, width in GROUP_FILES.items():
        if (folder / name).is_file():
            groups[name] = _read_npy(folder / name, width)
    lengths = {name: arr.shape[0] for name, arr in groups.items()}
    cam = _read_npy(folder / "cam.npy", N_CAM) if (folder / "cam.npy").is_file() else None
    if cam is not None:
        lengths["cam.npy"] = cam.shape[0]
    if len(set(lengths.values())) != 1:
        raise InvalidFileError(f"{folder}: files disagree on the number of frames: {lengths}")
    t = next(iter(lengths.values()))
    detail = groups.get("detailcode.npy", np.zeros((t, N_DETAIL), np.float32))
    metadata: dict[str, Any] = {}
    if (folder / "metadata.json").is_file():
        try:
            metadata = json.loads((folder / "metadata.json").read_text())
        except json.JSONDecodeError as exc:
            raise InvalidFileError(f"{folder / 'metadata.json'} is not valid JSON: {exc}") from None
    fps = float(metadata.pop("fps", FPS))
    seq = FlameSequence(
        np.concatenate([groups["shapecode.npy"], groups["expcode.npy"], groups["posecode.npy"], detail], axis=1),
        fps=fps, cam=cam, metadata=metadata,
    )
    audio = folder / "audio.wav"
    return seq, (audio if audio.is_file() else None)


def read_envelope(path: str | Path) -> np.ndarray | None:
    """The clip's sample-level envelope (N,) float32, or None when the folder has none."""
    p = Path(path) / "envelope.npy"
    if not p.is_file():
        return None
    env = np.load(p, allow_pickle=False)
    if env.ndim != 1:
        raise InvalidFileError(f"{p} must be 1-D (samples), got {env.shape}")
    return env.astype(np.float32, copy=False)


def write_sequence_dir(
    path: str | Path,
    seq: FlameSequence,
    audio: np.ndarray | None = None,
    envelope: np.ndarray | None = None,
    extra: dict[str, np.ndarray] | None = None,
    audio_subtype: str = "PCM_16",
) -> Path:
    """Write one clip folder atomically (the folder appears complete or not at all).

    Args:
        path: the clip folder (replaced if it exists).
        seq: parameters; ``seq.metadata`` (plus fps) goes to ``metadata.json``.
        audio: (N,) float32 16 kHz mono, written as ``audio.wav``.
        envelope: (N,) sample-level envelope, written as ``envelope.npy``.
        extra: more arrays to store as ``<name>.npy`` (e.g. ``refimg``, ``lightcode``).
        audio_subtype: soundfile subtype of ``audio.wav`` (``PCM_16`` like the released data,
            ``FLOAT`` for a lossless round trip).
    """
    folder = Path(path)
    with atomic_dir(folder) as tmp:
        np.save(tmp / "shapecode.npy", seq.shape)
        np.save(tmp / "expcode.npy", seq.exp)
        np.save(tmp / "posecode.npy", seq.pose)
        np.save(tmp / "detailcode.npy", seq.detail)
        if seq.cam is not None:
            np.save(tmp / "cam.npy", seq.cam)
        if envelope is not None:
            np.save(tmp / "envelope.npy", np.asarray(envelope, np.float32))
        for name, arr in (extra or {}).items():
            np.save(tmp / f"{name}.npy", np.asarray(arr))
        if audio is not None:
            import soundfile as sf

            sf.write(tmp / "audio.wav", np.asarray(audio, np.float32), SAMPLE_RATE, subtype=audio_subtype)
        (tmp / "metadata.json").write_text(json.dumps({**seq.metadata, "fps": seq.fps}, indent=1))
    return folder


def list_sequence_dirs(root: str | Path) -> list[Path]:
    """Every sequence folder below ``root`` (folders holding ``posecode.npy``), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise InvalidFileError(f"dataset folder not found: {root}")
    return sorted(p.parent for p in root.rglob("posecode.npy"))
