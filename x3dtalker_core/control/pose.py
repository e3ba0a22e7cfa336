"""Head-pose trajectories: per-frame pitch, yaw, roll, and how they combine with predicted motion.

Angles are rotations about FLAME's axes (right-hand rule; +x the subject's left, +y up, the face
looks along +z), in radians:

* pitch: about x — positive tips the face down (a nod), negative looks up;
* yaw: about y — positive turns the face toward the subject's left;
* roll: about z — positive tilts the head toward the subject's right shoulder.

The rotation of one frame is ``R = Ry(yaw) · Rx(pitch) · Rz(roll)`` (turn, then nod, then tilt).

Two combination modes (paper §3.3, App. E.2; SPEC §5 — a trajectory never *replaces* the model):

* ``superimpose`` (default): ``R_out[t] = R_traj[t] · R_pred[t]``; the trajectory rotates the
  model's predicted head on top of its own motion.
* ``center``: the trajectory sets the centre of motion and the model's motion is scaled around it:
  ``R_out[t] = R_traj[t] · R_c · exp(s · log(R_cᵀ R_pred[t]))`` with ``R_c`` the reference head
  rotation (or the mean predicted rotation) and ``s = deviation_scale``. With ``s = 1`` this equals
  ``superimpose``; ``s < 1`` calms the model's own sway so the trajectory dominates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .. import FPS
from ..errors import InvalidFileError, X3DError
from ..io_utils import save_npz
from ..rotation import axis_angle_to_matrix, euler_to_matrix, matrix_to_axis_angle
from .cues import AudioCues, _smooth
from .dsl import parse_expression

COMBINE_MODES = ("superimpose", "center")
AXES = ("pitch", "yaw", "roll")


@dataclass(frozen=True)
class PoseLimits:
    """Safety limits applied to every trajectory (degrees, degrees per second, seconds)."""

    pitch_deg: float = 20.0
    yaw_deg: float = 30.0
    roll_deg: float = 15.0
    max_speed_deg_s: float = 90.0
    smooth_s: float = 0.2

    @property
    def angle_limits_deg(self) -> np.ndarray:
        """(3,) pitch, yaw, roll limits."""
        return np.array([self.pitch_deg, self.yaw_deg, self.roll_deg], np.float64)


def condition_angles(degrees: np.ndarray, fps: float = FPS, limits: PoseLimits = PoseLimits()) -> np.ndarray:
    """Clamp, rate-limit and smooth (T, 3) pitch/yaw/roll curves in degrees; returns (T, 3) degrees.

    Order matters: hard clamp to the angle limits, then limit the per-frame change to
    ``max_speed_deg_s / fps`` (a follower that never jumps), then a Hann-weighted moving average of
    ``smooth_s``. Averaging with non-negative weights keeps both bounds, so the result respects the
    angle and speed limits exactly.
    """
    x = np.asarray(degrees, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise X3DError(f"pose curves must have shape (T, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise X3DError("pose curves contain NaN or infinite values")
    lim = limits.angle_limits_deg
    x = np.clip(x, -lim, lim)
    step = limits.max_speed_deg_s / fps
    y = np.empty_like(x)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] + np.clip(x[i] - y[i - 1], -step, step)
    frames = int(round(limits.smooth_s * fps)) | 1
    if frames > 1:
        y = np.stack([_smooth(y[:, k], frames) for k in range(3)], axis=1)
    return y


@dataclass(frozen=True)
class PoseTrajectory:
    """A head-pose trajectory to combine with the generator's predicted head rotation.

    Attributes:
        angles: (T, 3) float64 pitch, yaw, roll in radians (FLAME axes, see module docstring).
        fps: frames per second (25).
        mode: ``superimpose`` or ``center``.
        deviation_scale: ``center`` mode's scale of the model's own motion around the centre.
        metadata: JSON-able provenance (preset name and seed, LLM model, expressions, warnings).
    """

    angles: np.ndarray
    fps: float = float(FPS)
    mode: str = "superimpose"
    deviation_scale: float = 0.5
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a = np.asarray(self.angles, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] == 0:
            raise X3DError(f"pose trajectory angles must have shape (T, 3) with T > 0, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise X3DError("pose trajectory contains NaN or infinite values")
        object.__setattr__(self, "angles", a)
        if self.mode not in COMBINE_MODES:
            raise X3DError(f"unknown pose combination mode '{self.mode}'; use one of {', '.join(COMBINE_MODES)}")
        if not (self.deviation_scale >= 0):
            raise X3DError(f"deviation_scale must be >= 0, got {self.deviation_scale}")
        if not (self.fps > 0):
            raise X3DError(f"fps must be positive, got {self.fps}")
        try:
            json.dumps(self.metadata)
        except TypeError as exc:
            raise X3DError(f"pose trajectory metadata must be JSON-serialisable: {exc}") from None

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def zeros(cls, num_frames: int, fps: float = FPS) -> PoseTrajectory:
        """A still trajectory (combining it changes nothing)."""
        return cls(np.zeros((num_frames, 3)), fps, metadata={"source": "zeros"})

    @classmethod
    def from_degrees(cls, degrees: np.ndarray, fps: float = FPS, **kwargs: Any) -> PoseTrajectory:
        return cls(np.deg2rad(np.asarray(degrees, dtype=np.float64)), fps, **kwargs)

    # -- views -----------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.angles.shape[0]

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    @property
    def pitch(self) -> np.ndarray:
        return self.angles[:, 0]

    @property
    def yaw(self) -> np.ndarray:
        return self.angles[:, 1]

    @property
    def roll(self) -> np.ndarray:
        return self.angles[:, 2]

    @property
    def degrees(self) -> np.ndarray:
        """(T, 3) pitch, yaw, roll in degrees."""
        return np.rad2deg(self.angles)

    def to_matrix(self) -> np.ndarray:
        """(T, 3, 3) rotation matrices."""
        return euler_to_matrix(self.angles)

    def to_axis_angle(self) -> np.ndarray:
        """(T, 3) float32 axis-angle in FLAME axes (the layout of ``pose[0:3]``)."""
        return matrix_to_axis_angle(self.to_matrix()).astype(np.float32)

    # -- editing ---------------------------------------------------------------------------
    def with_mode(self, mode: str, deviation_scale: float | None = None) -> PoseTrajectory:
        scale = self.deviation_scale if deviation_scale is None else deviation_scale
        return replace(self, mode=mode, deviation_scale=scale)

    def scaled(self, factor: float) -> PoseTrajectory:
        """Angles times ``factor`` (a strength control)."""
        return replace(self, angles=self.angles * float(factor))

    def fit_length(self, num_frames: int) -> PoseTrajectory:
        """Crop to ``num_frames``, or extend by holding the last frame."""
        if num_frames < 1:
            raise X3DError(f"num_frames must be >= 1, got {num_frames}")
        a = self.angles[:num_frames]
        if a.shape[0] < num_frames:
            a = np.concatenate([a, np.repeat(a[-1:], num_frames - a.shape[0], axis=0)])
        return replace(self, angles=a)

    # -- combination -----------------------------------------------------------------------
    def combine(self, predicted: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """Combine with the model's predicted head rotation.

        Args:
            predicted: (T, 3) predicted head axis-angle (``pose[:, 0:3]`` of the generated sequence).
            reference: (3,) reference head axis-angle, the centre of ``center`` mode (default: the
                mean predicted rotation).

        Returns:
            (T, 3) float32 combined head axis-angle. The trajectory is cropped or held to T frames.
        """
        pred = np.asarray(predicted, dtype=np.float64)
        if pred.ndim != 2 or pred.shape[1] != 3:
            raise X3DError(f"predicted head pose must have shape (T, 3), got {pred.shape}")
        traj = self.fit_length(pred.shape[0]).to_matrix()
        r_pred = axis_angle_to_matrix(pred)
        if self.mode == "superimpose":
            return matrix_to_axis_angle(traj @ r_pred).astype(np.float32)
        from scipy.spatial.transform import Rotation

        if reference is None:
            r_c = Rotation.from_matrix(r_pred).mean().as_matrix()
        else:
            ref = np.asarray(reference, dtype=np.float64)
            if ref.shape != (3,):
                raise X3DError(f"reference head pose must have shape (3,), got {ref.shape}")
            r_c = axis_angle_to_matrix(ref)
        deviation = matrix_to_axis_angle(r_c.T @ r_pred) * self.deviation_scale
        return matrix_to_axis_angle(traj @ r_c @ axis_angle_to_matrix(deviation)).astype(np.float32)

    def apply_to_pose(self, pose: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
        """(T, 6) head + jaw pose -> (T, 6) with the head rotation combined, jaw untouched."""
        p = np.asarray(pose, dtype=np.float32).copy()
        if p.ndim != 2 or p.shape[1] != 6:
            raise X3DError(f"pose must have shape (T, 6), got {p.shape}")
        p[:, :3] = self.combine(p[:, :3], reference)
        return p

    # -- IO --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``angles (T,3) radians, fps, mode, deviation_scale, metadata (JSON)`` to an ``.npz``."""
        return save_npz(path, angles=self.angles, fps=np.float64(self.fps), mode=np.asarray(self.mode),
                        deviation_scale=np.float64(self.deviation_scale),
                        metadata=np.asarray(json.dumps(self.metadata)))

    @classmethod
    def load(cls, path: str | Path) -> PoseTrajectory:
        path = Path(path)
        if not path.is_file():
            raise X3DError(f"pose trajectory file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as z:
                if "angles" not in z.files:
                    raise InvalidFileError(f"{path} is not a pose trajectory (no 'angles' array)")
                return cls(
                    z["angles"], float(z["fps"]) if "fps" in z.files else float(FPS),
                    str(z["mode"]) if "mode" in z.files else "superimpose",
                    float(z["deviation_scale"]) if "deviation_scale" in z.files else 0.5,
                    json.loads(str(z["metadata"])) if "metadata" in z.files else {},
                )
        except (OSError, ValueError) as exc:
            raise InvalidFileError(f"cannot read pose trajectory {path}: {exc}") from None


def trajectory_from_expressions(
    expressions: Mapping[str, str],
    cues: AudioCues,
    limits: PoseLimits = PoseLimits(),
    mode: str = "superimpose",
    metadata: dict[str, Any] | None = None,
    gain: float = 1.0,
) -> PoseTrajectory:
    """Evaluate pitch/yaw/roll curve expressions (degrees over ``t`` seconds) into a conditioned trajectory.

    Args:
        expressions: ``{"pitch": ..., "yaw": ..., "roll": ...}`` in the curve language (:mod:`.dsl`);
            a missing axis is 0.
        cues: audio cues; they fix the number of frames and provide ``env``/``beat``/... helpers.
        limits: clamp, speed and smoothing limits.
        gain: multiplies the curves before conditioning (a strength control that keeps the limits).
    """
    unknown = set(expressions) - set(AXES)
    if unknown:
        raise X3DError(f"unknown pose axis name(s) {sorted(unknown)}; use pitch, yaw, roll")
    t = np.arange(cues.num_frames) / cues.fps
    helpers, constants = cues.helpers(), cues.constants()
    curves = []
    for axis in AXES:
        text = expressions.get(axis, "0")
        expr = parse_expression(text, helper_names=tuple(helpers), constant_names=tuple(constants))
        curves.append(expr.evaluate(t, constants=constants, helpers=helpers))
    degrees = condition_angles(np.stack(curves, axis=1) * float(gain), cues.fps, limits)
    meta = {"expressions": {a: expressions.get(a, "0") for a in AXES}, **(metadata or {})}
    return PoseTrajectory.from_degrees(degrees, cues.fps, mode=mode, metadata=meta)
