"""Reference photo -> FLAME parameters: the one entry point for every backend (SPEC §4).

* ``landmarks`` (offline default): MediaPipe face mesh (LiteRT) -> :func:`.fitter.fit_landmarks`
  on the 105 FLAME-embedded MediaPipe points; detail code 0.
* ``emoca``: EMOCA v2 encoders on EMOCA's face crop (weights supplied by the user).
* ``params``: an existing ``.npz``, a dataset sequence folder (frame 0), or a FlameSequence/FlameParams.
"""

from __future__ import annotations

import dataclasses

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import X3DError
from ..params import N_DETAIL, N_EXP, N_SHAPE, FlameParams, FlameSequence
from .fitter import CROP_PIXELS, FitSettings, emoca_crop, head_angles_deg

BACKENDS = ("landmarks", "emoca", "params")
MIN_FACE_PX = 64
"""Faces whose detector box is smaller than this (longest side, pixels) are refused."""
MAX_YAW_DEG = 60.0
"""Beyond this head yaw the face-mesh landmarks on the far side are guesses; the fit is refused."""
MIN_PRESENCE = 0.5
DETECT_MAX_SIDE = 2048
"""Detection runs on a copy downscaled to this longest side (the landmark crop uses full resolution)."""
UPRIGHT_CHECK_SCORE = 0.8
"""Below this detector score the photo is also tried turned by 90, 180 and 270 degrees."""
ROTATED_MARGIN = 0.15
"""A turned copy whose best score beats the photo's by this much means the photo is not upright."""
UPRIGHT_CROP_PX = 256
"""The orientation check looks at a square of twice the face box around it, at this size."""

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ReconstructionResult:
    """A reference face in FLAME parameters.

    Attributes:
        params: the FLAME parameters (``cam`` set: EMOCA orthographic camera for ``crop``).
        residual_px: mean landmark reprojection error in image pixels (NaN where not measured).
        confidence: 0..1, detector presence x fit quality (1.0 for ``params``).
        bbox: (4,) face box x0, y0, x1, y1 in image pixels, or None (``params``).
        crop: (3,) x0, y0, size of the square crop ``params.cam`` refers to, or None.
        backend: which backend produced it.
        image_size: (H, W) of the photo, or None.
        num_faces: faces detected in the photo.
        target_points: (L, 2) detected landmarks used by the fit (image pixels), or None.
        fitted_points: (L, 2) the fitted model's landmarks, or None.
        mesh_points: (468, 2) all MediaPipe points, or None.
        head_angles: (pitch, yaw, roll) degrees of the head pose.
    """

    params: FlameParams
    residual_px: float
    confidence: float
    bbox: np.ndarray | None
    crop: np.ndarray | None
    backend: str
    image_size: tuple[int, int] | None = None
    num_faces: int = 1
    target_points: np.ndarray | None = None
    fitted_points: np.ndarray | None = None
    mesh_points: np.ndarray | None = None
    head_angles: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def summary(self) -> dict:
        """JSON-friendly facts for reports and metadata."""
        pitch, yaw, roll = self.head_angles
        return {
            "backend": self.backend,
            "residual_px": None if math.isnan(self.residual_px) else round(self.residual_px, 3),
            "confidence": round(self.confidence, 3),
            "num_faces": self.num_faces,
            "bbox": None if self.bbox is None else [round(float(v), 1) for v in self.bbox],
            "crop": None if self.crop is None else [round(float(v), 2) for v in self.crop],
            "image_size": None if self.image_size is None else list(self.image_size),
            "head_pitch_yaw_roll_deg": [round(pitch, 2), round(yaw, 2), round(roll, 2)],
            "jaw_open_deg": round(math.degrees(float(self.params.jaw_pose[0])), 2),
        }


# ----------------------------------------------------------------------------------------------
# params backend
# ----------------------------------------------------------------------------------------------
def load_reference_params(source, frame: int = 0) -> FlameParams:
    """Reference parameters from a FlameParams/FlameSequence, a parameter ``.npz`` or a dataset folder.

    A dataset sequence folder (3DTalkingDataset layout: ``shapecode.npy, expcode.npy, posecode.npy``
    [, ``detailcode.npy``, ``cam.npy``]) gives its frame ``frame`` (0: the paper's reference).
    """
    if isinstance(source, FlameParams):
        return source
    if isinstance(source, FlameSequence):
        return source.frame(frame)
    path = Path(source)
    if path.is_dir():
        need = ["shapecode.npy", "expcode.npy", "posecode.npy"]
        missing = [n for n in need if not (path / n).is_file()]
        if missing:
            raise X3DError(f"{path} is not a dataset sequence folder: missing {', '.join(missing)}")
        try:
            arrays = {n[:-4]: np.load(path / n, allow_pickle=False) for n in need}
            detail = np.load(path / "detailcode.npy", allow_pickle=False) if (path / "detailcode.npy").is_file() else None
            cam = np.load(path / "cam.npy", allow_pickle=False) if (path / "cam.npy").is_file() else None
        except (OSError, ValueError) as exc:
            raise X3DError(f"cannot read {path}: {exc}") from None
        t = arrays["posecode"].shape[0]
        if not -t <= frame < t:
            raise X3DError(f"frame {frame} is out of range for {path} ({t} frames)")
        row = lambda a, n: np.asarray(a, np.float32).reshape(t, -1)[frame, :n]  # noqa: E731
        shape = np.zeros(N_SHAPE, np.float32)
        s = row(arrays["shapecode"], N_SHAPE)
        shape[: s.shape[0]] = s
        exp = np.zeros(N_EXP, np.float32)
        e = row(arrays["expcode"], N_EXP)
        exp[: e.shape[0]] = e
        det = np.zeros(N_DETAIL, np.float32) if detail is None else row(detail, N_DETAIL)
        return FlameParams(shape=shape, exp=exp, pose=row(arrays["posecode"], 6), detail=det,
                           cam=None if cam is None else row(cam, 3))
    if path.suffix.lower() == ".npz" or path.is_file():
        return FlameSequence.load(path).frame(frame)
    raise X3DError(f"reference parameters not found: {path} (give a .npz or a dataset sequence folder)")


# ----------------------------------------------------------------------------------------------
# image backends
# ----------------------------------------------------------------------------------------------
def _pick_face(faces, face_index: int | None, image_shape):
    if not faces:
        h, w = image_shape[:2]
        raise X3DError(
            f"no face found in the {w}x{h} image; use a photo with a clearly visible, roughly frontal face"
        )
    if face_index is None:
        face = faces[0]
    elif not -len(faces) <= face_index < len(faces):
        raise X3DError(f"face index {face_index} is out of range: {len(faces)} face(s) found (0 = largest)")
    else:
        face = faces[face_index]
    if face.size < MIN_FACE_PX:
        raise X3DError(
            f"the face is too small ({face.size:.0f} px, need at least {MIN_FACE_PX} px); "
            "use a larger or closer photo, or crop around the face"
        )
    return face


def check_upright(image: np.ndarray, face, detector) -> None:
    """Refuse a photo whose face is upside down or on its side.

    The face models are trained on upright faces: on an upside-down one the detector still fires,
    weakly, and the landmarks land on the hair. So when the chosen ``face`` is a weak detection, its
    surroundings are detected again turned by 90, 180 and 270 degrees; if a turned copy is clearly more face-like,
    the photo is refused with the rotation that fixes it (turning it here would misalign the photo
    camera and Wan's reference image with the user's photo).
    """
    from .detector import best_score, sample_roi

    if face.score >= UPRIGHT_CHECK_SCORE:
        return
    centre = (face.box[:2] + face.box[2:]) / 2.0
    crop = sample_roi(image, (float(centre[0]), float(centre[1]), 2.0 * face.size, 0.0), UPRIGHT_CROP_PX)
    crop = (crop * 255.0 + 0.5).astype(np.uint8)
    scores = [best_score(detector.detect(np.ascontiguousarray(np.rot90(crop, k)))) for k in range(4)]
    k = int(np.argmax(scores[1:])) + 1
    if scores[k] >= UPRIGHT_CHECK_SCORE and scores[k] > scores[0] + ROTATED_MARGIN:
        how = "is upside down (turned 180 degrees)" if k == 2 else "lies on its side"
        turn = {1: "90 degrees counter-clockwise", 2: "180 degrees", 3: "90 degrees clockwise"}[k]
        raise X3DError(f"the face in the photo {how}: face detector confidence {scores[0]:.2f} as given, "
                       f"{scores[k]:.2f} turned {turn}; rotate the photo {turn} so the face is upright, then run again")


def detect_face_mesh(image: np.ndarray, detector, face_index: int | None):
    """Detect faces (on a downscaled copy of huge photos), pick one, return (face, mesh, count)."""
    from .detector import TILE_RETRY_SCORE, FaceDetection, best_score
    from .image import resize_area

    scale = min(1.0, DETECT_MAX_SIDE / max(image.shape[:2]))
    small = resize_area(image, scale) if scale < 1.0 else image
    faces = detector.detect(small)
    if scale < 1.0:
        faces = [FaceDetection(f.box / scale, f.keypoints / scale, f.score) for f in faces]
        if best_score(faces) < TILE_RETRY_SCORE:  # a face too small for the downscaled copy: tiles at full size
            tiled = detector.detect_tiled(image)
            faces = tiled if best_score(tiled) > best_score(faces) else faces
    face = _pick_face(faces, face_index, image.shape)
    check_upright(image, face, detector)
    mesh = detector.face_mesh(image, face)
    if mesh.presence < MIN_PRESENCE:
        raise X3DError(
            f"the face landmarker is not confident there is a face (presence {mesh.presence:.2f}); "
            "use a clearer, roughly frontal photo"
        )
    return face, mesh, len(faces)


def _check_pose(pose: np.ndarray) -> tuple[float, float, float]:
    angles = head_angles_deg(pose)
    if abs(angles[1]) > MAX_YAW_DEG:
        raise X3DError(
            f"the head is turned {abs(angles[1]):.0f} degrees (profile); the landmark fit handles up to "
            f"{MAX_YAW_DEG:.0f}. Use a more frontal photo"
        )
    return angles


def confidence_from_fit(presence: float, residual_px: float, crop_size: float) -> float:
    """Presence x a Gaussian falloff of the residual measured in 224-crop pixels (σ = 4 px)."""
    r224 = residual_px / max(crop_size, 1e-6) * CROP_PIXELS
    return float(np.clip(presence, 0.0, 1.0) * math.exp(-0.5 * (r224 / 4.0) ** 2))


class LandmarkReconstructor:
    """The ``landmarks`` backend with its models loaded once (reuse it for many photos)."""

    def __init__(self, flame_model=None, detector=None, settings: FitSettings = FitSettings()) -> None:
        from ..flame import load_flame_model
        from .detector import MediaPipeFaceMesh
        from .fitter import SurfacePointModel

        self.model = flame_model if flame_model is not None else load_flame_model(n_shape=N_SHAPE, n_exp=N_EXP)
        if self.model.mediapipe is None:
            raise X3DError("the landmarks backend needs the MediaPipe landmark embedding (asset 'mediapipe_embedding')")
        self.detector = detector if detector is not None else MediaPipeFaceMesh()
        emb = self.model.mediapipe
        self.mesh_indices = np.asarray(emb.landmark_indices, np.int64)
        self.head = SurfacePointModel(self.model, emb.face_idx, emb.bary, N_SHAPE, N_EXP)
        self.settings = settings

    def __call__(self, image: np.ndarray, face_index: int | None = None, progress: Progress | None = None):
        report = progress or (lambda f, m: None)
        report(0.05, "detecting face")
        face, mesh, count = detect_face_mesh(image, self.detector, face_index)
        report(0.35, "fitting FLAME to landmarks")
        from .fitter import fit_landmarks

        targets = mesh.points[self.mesh_indices, :2]
        crop = emoca_crop(mesh.ibug68)
        fit = fit_landmarks(self.head, targets, crop=crop, settings=self.settings)
        angles = _check_pose(fit.pose)
        shape = np.zeros(N_SHAPE, np.float32)
        shape[: fit.shape.shape[0]] = fit.shape
        exp = np.zeros(N_EXP, np.float32)
        exp[: fit.exp.shape[0]] = fit.exp
        params = FlameParams(shape=shape, exp=exp, pose=fit.pose, detail=np.zeros(N_DETAIL, np.float32), cam=fit.cam)
        report(1.0, "done")
        return ReconstructionResult(
            params=params,
            residual_px=fit.residual_px,
            confidence=confidence_from_fit(mesh.presence, fit.residual_px, float(crop[2])),
            bbox=face.box.astype(np.float32),
            crop=fit.crop,
            backend="landmarks",
            image_size=(int(image.shape[0]), int(image.shape[1])),
            num_faces=count,
            target_points=targets.astype(np.float32),
            fitted_points=fit.points,
            mesh_points=mesh.points[:, :2].astype(np.float32),
            head_angles=angles,
        )


class EmocaReconstructor:
    """The ``emoca`` backend: MediaPipe for the face box, EMOCA v2 for the parameters."""

    def __init__(self, emoca_path: str | Path | None = None, detector=None, emoca_model=None) -> None:
        from .detector import MediaPipeFaceMesh
        from .emoca import load_emoca

        self.emoca = emoca_model if emoca_model is not None else load_emoca(emoca_path)
        self.detector = detector if detector is not None else MediaPipeFaceMesh()

    def __call__(self, image: np.ndarray, face_index: int | None = None, progress: Progress | None = None):
        from .emoca import CROP_SCALE, emoca_input

        report = progress or (lambda f, m: None)
        report(0.05, "detecting face")
        face, mesh, count = detect_face_mesh(image, self.detector, face_index)
        crop = emoca_crop(mesh.ibug68, scale=CROP_SCALE).astype(np.float32)
        report(0.4, "running EMOCA")
        codes = self.emoca(emoca_input(image, crop))
        shape = np.zeros(N_SHAPE, np.float32)
        shape[: min(N_SHAPE, codes.shape.shape[1])] = codes.shape[0, :N_SHAPE]
        exp = np.zeros(N_EXP, np.float32)
        exp[: min(N_EXP, codes.exp.shape[1])] = codes.exp[0, :N_EXP]
        detail = np.zeros(N_DETAIL, np.float32)
        detail[: min(N_DETAIL, codes.detail.shape[1])] = codes.detail[0, :N_DETAIL]
        params = FlameParams(shape=shape, exp=exp, pose=codes.pose[0, :6], detail=detail, cam=codes.cam[0, :3])
        report(1.0, "done")
        return ReconstructionResult(
            params=params,
            residual_px=float("nan"),
            confidence=float(np.clip(mesh.presence, 0.0, 1.0)),
            bbox=face.box.astype(np.float32),
            crop=crop,
            backend="emoca",
            image_size=(int(image.shape[0]), int(image.shape[1])),
            num_faces=count,
            mesh_points=mesh.points[:, :2].astype(np.float32),
            head_angles=head_angles_deg(params.pose),
        )


def reconstruct_reference(
    image,
    backend: str = "landmarks",
    face_index: int | None = None,
    progress: Progress | None = None,
    reconstructor: LandmarkReconstructor | EmocaReconstructor | None = None,
    emoca_path: str | Path | None = None,
) -> ReconstructionResult:
    """Reference FLAME parameters from a photo (or, for ``params``, from a parameter source).

    Args:
        image: (H, W, 3) uint8/float array, (1, H, W, C) batch, or an image path; for ``params`` a
            ``.npz`` path, a dataset sequence folder, a FlameSequence or FlameParams.
        backend: ``landmarks`` | ``emoca`` | ``params``.
        face_index: which face when several are found (0 = largest, the default).
        progress: optional callback ``(fraction, message)``.
        reconstructor: a pre-built backend object (keeps models loaded across calls).
        emoca_path: EMOCA model folder (default: the ``emoca`` asset).
    """
    if backend not in BACKENDS:
        raise X3DError(f"unknown reconstruction backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "params":
        params = load_reference_params(image)
        return ReconstructionResult(params=params, residual_px=float("nan"), confidence=1.0, bbox=None, crop=None,
                                    backend="params", num_faces=0, head_angles=head_angles_deg(params.pose))
    from .image import load_image

    rgb = load_image(image)
    if reconstructor is None:
        reconstructor = LandmarkReconstructor() if backend == "landmarks" else EmocaReconstructor(emoca_path)
    result = reconstructor(rgb, face_index=face_index, progress=progress)
    # The parameters carry where they came from (face crop, photo size), so a sequence generated from them
    # can be rendered in the photo's own framing.
    return dataclasses.replace(result, params=result.params.replace(metadata={"reference": result.summary()}))
