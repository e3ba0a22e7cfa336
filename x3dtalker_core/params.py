"""FLAME parameter types: one frame (:class:`FlameParams`) and a clip (:class:`FlameSequence`).

The per-frame vector has 284 values in the 3DTalkingDataset order (SPEC §1)::

    shape[0:100] | exp[100:150] | pose[150:156] = head (3) + jaw (3) axis-angle | detail[156:284]

plus an optional orthographic camera ``cam = (scale, tx, ty)`` (EMOCA convention). Values are kept
as float32 numpy arrays: these types are what flows between stages and what is written to disk;
model code converts them to tensors on its own device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import FPS
from .errors import InvalidFileError, X3DError
from .io_utils import save_npz

N_SHAPE = 100
N_EXP = 50
N_POSE = 6
N_DETAIL = 128
N_CAM = 3
PARAM_DIM = N_SHAPE + N_EXP + N_POSE + N_DETAIL  # 284

SHAPE = slice(0, 100)
EXP = slice(100, 150)
POSE = slice(150, 156)
HEAD_POSE = slice(150, 153)
JAW_POSE = slice(153, 156)
DETAIL = slice(156, 284)

GROUPS: dict[str, slice] = {"shape": SHAPE, "exp": EXP, "pose": POSE, "detail": DETAIL}
"""Named slices of the 284 vector, in storage order."""


def _as_array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.shape != shape:
        raise X3DError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise X3DError(f"{name} contains NaN or infinite values")
    return arr


@dataclass(frozen=True)
class FlameParams:
    """FLAME parameters of one frame.

    Attributes:
        shape: (100,) identity coefficients.
        exp: (50,) expression coefficients.
        pose: (6,) head axis-angle (3) then jaw axis-angle (3), radians.
        detail: (128,) EMOCA/DECA detail code (zeros when unknown).
        cam: (3,) orthographic scale, tx, ty, or None.
        metadata: JSON-serialisable facts about where the frame came from (e.g. ``reference``: the
            photo's face crop and size, which the renderer's ``photo`` camera uses).
    """

    shape: np.ndarray
    exp: np.ndarray
    pose: np.ndarray
    detail: np.ndarray
    cam: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _as_array(self.shape, (N_SHAPE,), "shape"))
        object.__setattr__(self, "exp", _as_array(self.exp, (N_EXP,), "exp"))
        object.__setattr__(self, "pose", _as_array(self.pose, (N_POSE,), "pose"))
        object.__setattr__(self, "detail", _as_array(self.detail, (N_DETAIL,), "detail"))
        if self.cam is not None:
            object.__setattr__(self, "cam", _as_array(self.cam, (N_CAM,), "cam"))

    @classmethod
    def zeros(cls) -> FlameParams:
        return cls.from_vector(np.zeros(PARAM_DIM, np.float32))

    @classmethod
    def from_vector(cls, vector: np.ndarray, cam: np.ndarray | None = None) -> FlameParams:
        """Build from a (284,) vector in storage order."""
        v = _as_array(vector, (PARAM_DIM,), "parameter vector")
        return cls(shape=v[SHAPE], exp=v[EXP], pose=v[POSE], detail=v[DETAIL], cam=cam)

    def to_vector(self) -> np.ndarray:
        """(284,) float32 in storage order."""
        return np.concatenate([self.shape, self.exp, self.pose, self.detail]).astype(np.float32)

    @property
    def head_pose(self) -> np.ndarray:
        """(3,) global head rotation, axis-angle."""
        return self.pose[:3]

    @property
    def jaw_pose(self) -> np.ndarray:
        """(3,) jaw rotation, axis-angle; [0] is jaw opening."""
        return self.pose[3:]

    def replace(self, **changes: Any) -> FlameParams:
        values = {"shape": self.shape, "exp": self.exp, "pose": self.pose, "detail": self.detail, "cam": self.cam,
                  "metadata": self.metadata}
        values.update(changes)
        return FlameParams(**values)

    def save(self, path: str | Path) -> None:
        """Write a one-frame ``.npz`` (same keys as :meth:`FlameSequence.save`, T = 1)."""
        FlameSequence.from_frames([self]).save(path)

    @classmethod
    def load(cls, path: str | Path, frame: int = 0) -> FlameParams:
        """Read one frame of a parameter ``.npz`` written by :meth:`FlameSequence.save`."""
        return FlameSequence.load(path).frame(frame)


@dataclass(frozen=True)
class FlameSequence:
    """A clip of FLAME parameters at a fixed frame rate.

    Attributes:
        params: (T, 284) float32, absolute parameters in storage order.
        fps: frames per second (25 everywhere in this project).
        cam: (T, 3) orthographic camera per frame, or None.
        metadata: JSON-serialisable facts about the clip (source, checkpoint, seed, ...).
    """

    params: np.ndarray
    fps: float = float(FPS)
    cam: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = np.asarray(self.params, dtype=np.float32)
        if p.ndim != 2 or p.shape[1] != PARAM_DIM:
            raise X3DError(f"parameter sequence must have shape (T, {PARAM_DIM}), got {p.shape}")
        if p.shape[0] == 0:
            raise X3DError("parameter sequence has no frames")
        if not np.all(np.isfinite(p)):
            raise X3DError("parameter sequence contains NaN or infinite values")
        object.__setattr__(self, "params", p)
        if self.cam is not None:
            object.__setattr__(self, "cam", _as_array(self.cam, (p.shape[0], N_CAM), "cam"))
        if not (self.fps > 0):
            raise X3DError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "fps", float(self.fps))
        try:
            json.dumps(self.metadata)
        except TypeError as exc:
            raise X3DError(f"sequence metadata must be JSON-serialisable: {exc}") from None

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_frames(cls, frames: list[FlameParams], fps: float = FPS, metadata: dict | None = None) -> FlameSequence:
        if not frames:
            raise X3DError("cannot build a sequence from zero frames")
        params = np.stack([f.to_vector() for f in frames])
        cams = [f.cam for f in frames]
        if all(c is not None for c in cams):
            cam = np.stack(cams)
        elif any(c is not None for c in cams):
            raise X3DError("either every frame has a camera or none does")
        else:
            cam = None
        return cls(params=params, fps=fps, cam=cam, metadata=dict(metadata or {}))

    @classmethod
    def from_groups(
        cls,
        shape: np.ndarray,
        exp: np.ndarray,
        pose: np.ndarray,
        detail: np.ndarray | None = None,
        cam: np.ndarray | None = None,
        fps: float = FPS,
        metadata: dict | None = None,
    ) -> FlameSequence:
        """Build from per-group arrays: shape (T,100), exp (T,50), pose (T,6), detail (T,128)."""
        t = np.asarray(pose).shape[0]
        detail = np.zeros((t, N_DETAIL), np.float32) if detail is None else detail
        parts = {"shape": (shape, N_SHAPE), "exp": (exp, N_EXP), "pose": (pose, N_POSE), "detail": (detail, N_DETAIL)}
        arrays = [_as_array(a, (t, n), name) for name, (a, n) in parts.items()]
        return cls(params=np.concatenate(arrays, axis=1), fps=fps, cam=cam, metadata=dict(metadata or {}))

    # -- views ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.params.shape[0]

    @property
    def num_frames(self) -> int:
        return self.params.shape[0]

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.num_frames / self.fps

    @property
    def shape(self) -> np.ndarray:
        """(T, 100)"""
        return self.params[:, SHAPE]

    @property
    def exp(self) -> np.ndarray:
        """(T, 50)"""
        return self.params[:, EXP]

    @property
    def pose(self) -> np.ndarray:
        """(T, 6) head then jaw axis-angle."""
        return self.params[:, POSE]

    @property
    def head_pose(self) -> np.ndarray:
        """(T, 3)"""
        return self.params[:, HEAD_POSE]

    @property
    def jaw_pose(self) -> np.ndarray:
        """(T, 3)"""
        return self.params[:, JAW_POSE]

    @property
    def detail(self) -> np.ndarray:
        """(T, 128)"""
        return self.params[:, DETAIL]

    def frame(self, index: int) -> FlameParams:
        if not -self.num_frames <= index < self.num_frames:
            raise X3DError(f"frame {index} is out of range for a sequence of {self.num_frames} frames")
        cam = None if self.cam is None else self.cam[index]
        return FlameParams.from_vector(self.params[index], cam=cam)

    def slice(self, start: int, stop: int) -> FlameSequence:
        cam = None if self.cam is None else self.cam[start:stop]
        return FlameSequence(self.params[start:stop], self.fps, cam, dict(self.metadata))

    # -- npz IO ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``params (T,284), fps, cam (T,3)?, metadata (JSON)`` plus per-group arrays, atomically.

        The per-group arrays (``shapecode``, ``expcode``, ``posecode``, ``detailcode``) carry the
        dataset-layout names so the file is self-describing for other tools.
        """
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "params": self.params,
            "fps": np.asarray(self.fps, np.float64),
            "metadata": np.asarray(json.dumps(self.metadata)),
            "shapecode": self.shape,
            "expcode": self.exp,
            "posecode": self.pose,
            "detailcode": self.detail,
        }
        if self.cam is not None:
            arrays["cam"] = self.cam
        return save_npz(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> FlameSequence:
        """Read a ``.npz`` written by :meth:`save`, or any npz with ``params`` or the four group keys."""
        path = Path(path)
        if not path.is_file():
            raise X3DError(f"parameter file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = set(data.files)
                if "params" in keys:
                    params = data["params"]
                elif {"shapecode", "expcode", "posecode"} <= keys:
                    t = data["posecode"].shape[0]
                    detail = data["detailcode"] if "detailcode" in keys else np.zeros((t, N_DETAIL), np.float32)
                    params = np.concatenate(
                        [data["shapecode"], data["expcode"], data["posecode"], detail], axis=1
                    )
                else:
                    raise InvalidFileError(
                        f"{path} has neither a 'params' array nor shapecode/expcode/posecode arrays "
                        f"(found: {sorted(keys)})"
                    )
                fps = float(data["fps"]) if "fps" in keys else float(FPS)
                cam = data["cam"] if "cam" in keys else None
                metadata = json.loads(str(data["metadata"])) if "metadata" in keys else {}
        except (OSError, ValueError) as exc:
            raise InvalidFileError(f"cannot read parameter file {path}: {exc}") from None
        params = np.asarray(params)
        if params.ndim == 1:
            params = params[None]
        if cam is not None and np.asarray(cam).ndim == 1:
            cam = np.asarray(cam)[None]
        return cls(params=params, fps=fps, cam=cam, metadata=metadata)
