"""An ARKit-52 animation track from a FLAME sequence: blendshape weights + head and eye rotations.

One track feeds every blendshape export (Live Link Face CSV, Audio2Face JSON, LAM JSON). Sequences whose
``metadata["expression_space"]`` is ``"arkit"`` keep their weights; FLAME-PCA sequences are solved
(:func:`~x3dtalker_core.flame.arkit.solve_arkit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import X3DError
from ..flame.arkit import ARKIT52_NAMES, PCA_SPACE, solve_arkit
from ..params import FlameSequence


def expression_space_of_sequence(sequence: FlameSequence) -> str:
    """The expression space a sequence speaks (absent = ``"flame-pca"``, as in old checkpoints)."""
    return str(sequence.metadata.get("expression_space") or PCA_SPACE)


@dataclass(frozen=True)
class ArkitTrack:
    """ARKit-52 weights and rotations at a fixed frame rate.

    Attributes:
        weights: (T, 52) float32 in [0, 1], :data:`~x3dtalker_core.flame.arkit.ARKIT52_NAMES` order.
        head: (T, 3) head rotation, axis-angle radians (FLAME's global pose; +x the subject's left, +y
            up, the face looks along +z).
        eyes: (T, 6) left then right eye rotations, axis-angle radians (zero when the sequence has none).
        fps: frames per second.
        info: how the weights were made (source space, solve error in mm).
    """

    weights: np.ndarray
    head: np.ndarray
    eyes: np.ndarray
    fps: float
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        w = np.asarray(self.weights, np.float32)
        t = w.shape[0]
        if w.ndim != 2 or w.shape[1] != len(ARKIT52_NAMES) or t == 0:
            raise X3DError(f"ARKit weights must be (T, {len(ARKIT52_NAMES)}) with T > 0, got {w.shape}")
        head = np.asarray(self.head, np.float32)
        eyes = np.asarray(self.eyes, np.float32)
        if head.shape != (t, 3) or eyes.shape != (t, 6):
            raise X3DError(f"head must be ({t}, 3) and eyes ({t}, 6), got {head.shape} and {eyes.shape}")
        if not self.fps > 0:
            raise X3DError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "head", head)
        object.__setattr__(self, "eyes", eyes)
        object.__setattr__(self, "fps", float(self.fps))

    @property
    def num_frames(self) -> int:
        return self.weights.shape[0]

    def resample(self, fps: float) -> ArkitTrack:
        """The track at ``fps`` over the same duration: weights linearly, rotations by slerp."""
        if not fps > 0:
            raise X3DError(f"fps must be positive, got {fps}")
        if fps == self.fps:
            return self
        count = max(1, int(round(self.num_frames * fps / self.fps)))
        # Sample times in source frames, held at the last frame (the clip lasts T / fps seconds).
        src = np.clip(np.arange(count) * (self.fps / fps), 0, self.num_frames - 1)
        frames = np.arange(self.num_frames)
        weights = np.stack([np.interp(src, frames, col) for col in self.weights.T], axis=1)
        rotations = [_slerp_rotvecs(r, src) for r in (self.head, self.eyes[:, :3], self.eyes[:, 3:])]
        return ArkitTrack(weights, rotations[0], np.concatenate(rotations[1:], axis=1), fps,
                          {**self.info, "resampled_from_fps": self.fps})


def _slerp_rotvecs(rotvecs: np.ndarray, at: np.ndarray) -> np.ndarray:
    """(T, 3) axis-angle keys at integer frames -> (N, 3) at fractional frames ``at``."""
    from scipy.spatial.transform import Rotation, Slerp

    if rotvecs.shape[0] == 1:
        return np.repeat(rotvecs, at.shape[0], axis=0)
    slerp = Slerp(np.arange(rotvecs.shape[0]), Rotation.from_rotvec(rotvecs.astype(np.float64)))
    return slerp(at).as_rotvec().astype(np.float32)


def head_yaw_pitch_roll(rotvecs: np.ndarray) -> np.ndarray:
    """(T, 3) axis-angle -> (T, 3) yaw, pitch, roll in radians (intrinsic Y, X, Z in FLAME's frame).

    Yaw turns about +y (positive: the face turns towards the subject's left), pitch about +x
    (positive: chin down), roll about +z (positive: the top of the head tilts to the subject's right).
    """
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(rotvecs, np.float64)).as_euler("YXZ").astype(np.float32)


def arkit_track(
    sequence: FlameSequence,
    model,
    *,
    temporal: float = 0.05,
    symmetry: float = 0.02,
) -> ArkitTrack:
    """ARKit-52 track of ``sequence`` on ``model`` (the FLAME model the sequence was made for)."""
    space = expression_space_of_sequence(sequence)
    solve = solve_arkit(model, sequence.exp, sequence.jaw_pose, temporal=temporal, symmetry=symmetry,
                        from_space=space)
    eyes = np.zeros((sequence.num_frames, 6), np.float32)  # the 284 layout has no eye pose
    info = {"expression_space": space, "solve": solve.summary(), "temporal": temporal, "symmetry": symmetry}
    return ArkitTrack(solve.weights, sequence.head_pose, eyes, sequence.fps, info)
