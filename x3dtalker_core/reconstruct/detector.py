"""Face detection and 468-point face mesh: MediaPipe's bundled models run through LiteRT.

MediaPipe 0.10.21 is the last release whose wheel bundles the face models, and it pins numpy<2 and
protobuf<5. Instead of installing it into the user's (ComfyUI) environment we run its two plain
TFLite graphs with Google's maintained LiteRT runtime (``ai-edge-litert``, numpy 2 compatible):

* ``face_detection_short_range.tflite`` (BlazeFace, 128x128, faces within ~2 m) with
  ``face_detection_full_range_sparse.tflite`` (192x192, small faces) as a fallback;
* ``face_landmark.tflite`` (192x192 crop -> 468 points + a face-presence score).

The pre/post-processing MediaPipe's graphs do around them (SSD anchors, box decoding, weighted
NMS, the rotated 1.5x face crop) is re-implemented below from the graphs' documented settings.
The attention variant of the landmark model (478 points) needs MediaPipe's custom ops, so the
plain 468-point model is used; the FLAME MediaPipe embedding only indexes the first 468 anyway.

The ``.tflite`` files are assets (``mediapipe_face_detector``, ``mediapipe_face_detector_full``,
``mediapipe_face_mesh``); :func:`install_mediapipe_models` extracts them from a downloaded
MediaPipe wheel (Apache-2.0).
"""

from __future__ import annotations

import importlib.util
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..assets import ASSETS, default_install_dir, try_find_asset
from ..errors import AssetNotFoundError, InvalidFileError, X3DError
from ..io_utils import atomic_path

MODEL_FILES: dict[str, str] = {
    "mediapipe_face_detector": "face_detection_short_range.tflite",
    "mediapipe_face_detector_full": "face_detection_full_range_sparse.tflite",
    "mediapipe_face_mesh": "face_landmark.tflite",
}
"""Asset name -> file name, as bundled under ``mediapipe/modules/face_{detection,landmark}/``."""

MESH_SIZE = 192
ROI_SCALE = 1.5  # MediaPipe's face crop is 1.5x the face box (forehead and chin margin).
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # face-mesh indices used to level the crop

MESH_TO_IBUG68 = np.array([
    127, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 356,  # jaw line 0-16
    156, 63, 105, 66, 107, 336, 296, 334, 293, 383,  # eyebrows 17-26 (outer ends: 156, 383)
    168, 197, 5, 4, 75, 97, 2, 326, 305,  # nose 27-35
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,  # eyes 36-47
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer lip 48-59
    78, 82, 13, 312, 308, 317, 14, 87,  # inner lip 60-67
])
"""Face-mesh point standing for each of the 68 iBUG-300W landmarks (the FAN layout whose box EMOCA's test
loader crops). The jaw line follows the mesh's face oval; brows, eyes, nose and lips are the mesh's own points
at those features. Checked against FLAME's 68-point embedding projected on rendered heads: median 1-2 % of the
face size inside the face, 2-3 % on the jaw line, the crop within 2 px (tests/test_reconstruct_detector.py)."""


@dataclass(frozen=True)
class FaceDetection:
    """One detected face, in image pixels.

    Attributes:
        box: (4,) x0, y0, x1, y1.
        keypoints: (6, 2) right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion.
        score: detector confidence in [0, 1].
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float

    @property
    def size(self) -> float:
        """Longest side of the box, pixels."""
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    @property
    def area(self) -> float:
        return float(max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1]))


@dataclass(frozen=True)
class FaceMesh:
    """468 face-mesh points of one face.

    Attributes:
        points: (468, 3) x, y in image pixels; z in the same pixel scale, smaller = nearer.
        presence: face-presence probability from the landmark model.
        roi: (cx, cy, size, angle) of the rotated square crop the points came from.
    """

    points: np.ndarray
    presence: float
    roi: tuple[float, float, float, float]

    @property
    def ibug68(self) -> np.ndarray:
        """(68, 2) the iBUG-300W 68-landmark layout taken from the mesh (:data:`MESH_TO_IBUG68`), pixels."""
        return self.points[MESH_TO_IBUG68, :2]


# ----------------------------------------------------------------------------------------------
# model files
# ----------------------------------------------------------------------------------------------
def _installed_mediapipe_dir() -> Path | None:
    """Folder of an installed ``mediapipe`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec("mediapipe")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_mediapipe_model(asset: str) -> Path:
    """Path of one MediaPipe model file: the asset folders first, then an installed mediapipe."""
    found = try_find_asset(asset)
    if found is not None:
        return found
    pkg = _installed_mediapipe_dir()
    if pkg is not None:
        for sub in ("modules/face_detection", "modules/face_landmark"):
            p = pkg / sub / MODEL_FILES[asset]
            if p.is_file():
                return p
    desc = ASSETS[asset]
    raise AssetNotFoundError(
        f"{desc.description} ({MODEL_FILES[asset]}) not found. Install the MediaPipe face models once with "
        "`python -m x3dtalker_core assets install-mediapipe` "
        "(or use --backend params/emoca)"
    )


def install_mediapipe_models(source: str | Path, dest: str | Path | None = None) -> list[Path]:
    """Copy the three face ``.tflite`` files out of a MediaPipe wheel (or an unpacked package folder).

    Returns the installed paths (in ``dest``, default: the ``mediapipe`` model folder).
    """
    source = Path(source)
    dest = Path(dest) if dest is not None else default_install_dir(ASSETS["mediapipe_face_mesh"].folder)
    wanted = set(MODEL_FILES.values())
    blobs: dict[str, bytes] = {}
    if source.is_dir():
        for p in source.rglob("*.tflite"):
            if p.name in wanted:
                blobs[p.name] = p.read_bytes()
    elif source.is_file():
        try:
            with zipfile.ZipFile(source) as zf:
                for info in zf.infolist():
                    name = info.filename.rsplit("/", 1)[-1]
                    if name in wanted and "/modules/face_" in "/" + info.filename:
                        blobs[name] = zf.read(info)
        except zipfile.BadZipFile:
            raise InvalidFileError(f"{source} is not a wheel/zip file") from None
    else:
        raise X3DError(f"MediaPipe source not found: {source}")
    missing = sorted(wanted - set(blobs))
    if missing:
        raise InvalidFileError(
            f"{source} lacks {', '.join(missing)}; use the mediapipe 0.10.21 wheel (later releases no longer bundle them)"
        )
    paths = []
    for name, data in sorted(blobs.items()):
        if data[4:8] != b"TFL3":
            raise InvalidFileError(f"{name} in {source} is not a TFLite flatbuffer")
        out = dest / name
        with atomic_path(out) as tmp:
            tmp.write_bytes(data)
        paths.append(out)
    return paths


def _interpreter(path: Path, num_threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # the older stand-alone runtime exposes the same class
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError:
            raise X3DError(
                "the 'landmarks' backend needs the LiteRT runtime: pip install ai-edge-litert"
            ) from None
    try:
        interp = Interpreter(model_path=str(path), num_threads=num_threads)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise InvalidFileError(f"cannot load TFLite model {path}: {exc}") from None
    return interp


# ----------------------------------------------------------------------------------------------
# geometry helpers
# ----------------------------------------------------------------------------------------------
def ssd_anchor_centres(input_size: int, strides: list[int], anchors_per_layer: int) -> np.ndarray:
    """(N, 2) normalised anchor centres of MediaPipe's fixed-size SSD anchors.

    Consecutive layers with the same stride share one feature map, their anchors interleaved per cell.
    """
    centres = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = anchors_per_layer * (j - i)
        fm = math.ceil(input_size / strides[i])
        ys, xs = np.meshgrid((np.arange(fm) + 0.5) / fm, (np.arange(fm) + 0.5) / fm, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = 0.3):
    """MediaPipe-style weighted NMS: overlapping candidates are averaged, weighted by score.

    Args:
        boxes: (N, 4); keypoints: (N, K, 2); scores: (N,).

    Returns:
        list of (box (4,), keypoints (K, 2), score) for the kept faces.
    """
    order = np.argsort(-scores)
    remaining = order
    kept = []
    while remaining.size:
        top = remaining[0]
        overlap = _iou(boxes[top], boxes[remaining]) > iou
        group = remaining[overlap]
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kps = (keypoints[group] * w[:, :, None]).sum(0) / w.sum()
        kept.append((box, kps, float(scores[top])))
        remaining = remaining[~overlap]
    return kept


def roi_to_image(points: np.ndarray, roi: tuple[float, float, float, float], out_size: int) -> np.ndarray:
    """Map (N, 2+) crop-pixel coordinates back to image pixels (extra columns scaled only)."""
    cx, cy, size, angle = roi
    c, s = math.cos(angle), math.sin(angle)
    a = points[:, 0] / out_size - 0.5
    b = points[:, 1] / out_size - 0.5
    out = points.astype(np.float64).copy()
    out[:, 0] = cx + size * (c * a - s * b)
    out[:, 1] = cy + size * (s * a + c * b)
    if points.shape[1] > 2:
        out[:, 2:] = points[:, 2:] * (size / out_size)
    return out


def sample_roi(image: np.ndarray, roi: tuple[float, float, float, float], out_size: int) -> np.ndarray:
    """Bilinear crop of a rotated square ROI, (out_size, out_size, 3) float32 in [0, 1].

    Large ROIs (a face filling an 8k photo) are first area-downscaled so the crop does not alias.
    Outside the image is black (MediaPipe's border mode for the face crop is zero padding).
    """
    from scipy.ndimage import map_coordinates

    from .image import resize_area

    cx, cy, size, angle = roi
    zoom = 1.0
    src = image
    offset = np.zeros(2)
    if size / out_size > 2.0:
        half = size * 0.75  # covers the rotated square (half-diagonal is 0.707 size)
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(image.shape[1], int(cx + half) + 1), min(image.shape[0], int(cy + half) + 1)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            zoom = 2.0 * out_size / size
            src = resize_area(image[y0:y1, x0:x1], zoom)
            offset = np.array([x0, y0], np.float64)
    grid = (np.arange(out_size) + 0.5).astype(np.float64)
    gx, gy = np.meshgrid(grid, grid)
    pts = roi_to_image(np.stack([gx.ravel(), gy.ravel()], axis=1), roi, out_size)
    # image coordinates (pixel centres at +0.5) -> array indices of the (possibly zoomed) source
    xs = (pts[:, 0] - offset[0]) * zoom - 0.5
    ys = (pts[:, 1] - offset[1]) * zoom - 0.5
    srcf = src.astype(np.float32) / 255.0
    out = np.empty((out_size * out_size, 3), np.float32)
    for ch in range(3):
        out[:, ch] = map_coordinates(srcf[:, :, ch], [ys, xs], order=1, mode="constant", cval=0.0)
    return out.reshape(out_size, out_size, 3)


def _letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, np.ndarray]:
    """Pad to a centred square, resize to (size, size); returns image, scale (px per unit), pad offset."""
    h, w = image.shape[:2]
    side = max(h, w)
    roi = ((w / 2.0), (h / 2.0), float(side), 0.0)
    return sample_roi(image, roi, size), float(side), np.array([(w - side) / 2.0, (h - side) / 2.0])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100.0, 100.0)))


# ----------------------------------------------------------------------------------------------
# the detector
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _BlazeFaceConfig:
    input_size: int
    strides: list[int]
    anchors_per_layer: int
    min_score: float


TILE_SIZE = 384
"""Tile side (pixels) of the last-resort tiled detection: a 64 px face is 21 px of the 128 px model input."""
TILE_STRIDE = 256
"""Tiles overlap by 128 px, so every face up to that size lies whole inside some tile."""


TILE_RETRY_SCORE = 0.8
"""Whole-image detections weaker than this are retried on tiles."""


def best_score(faces: list[FaceDetection]) -> float:
    return max((f.score for f in faces), default=0.0)


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of tiles of ``tile`` covering ``[0, length)`` every ``stride`` (the last one ends at the edge)."""
    if length <= tile:
        return [0]
    return sorted(set(range(0, length - tile, stride)) | {length - tile})


SHORT_RANGE = _BlazeFaceConfig(128, [8, 16, 16, 16], 2, 0.5)
FULL_RANGE = _BlazeFaceConfig(192, [4], 1, 0.6)


class MediaPipeFaceMesh:
    """Face detector + 468-point landmarker (MediaPipe models on LiteRT, CPU).

    Args:
        num_threads: CPU threads for LiteRT (small by default: this runs once per reference photo).
        models: optional {asset name: path} overrides.
    """

    def __init__(self, num_threads: int = 2, models: dict[str, str | Path] | None = None) -> None:
        models = dict(models or {})
        paths = {name: Path(models[name]) if name in models else find_mediapipe_model(name) for name in MODEL_FILES}
        self.paths = paths
        self._short = _interpreter(paths["mediapipe_face_detector"], num_threads)
        self._full = _interpreter(paths["mediapipe_face_detector_full"], num_threads)
        self._mesh = _interpreter(paths["mediapipe_face_mesh"], num_threads)
        self._anchors = {
            id(SHORT_RANGE): ssd_anchor_centres(SHORT_RANGE.input_size, SHORT_RANGE.strides, SHORT_RANGE.anchors_per_layer),
            id(FULL_RANGE): ssd_anchor_centres(FULL_RANGE.input_size, FULL_RANGE.strides, FULL_RANGE.anchors_per_layer),
        }

    # -- detection -------------------------------------------------------------------------
    def _run_detector(self, interp, cfg: _BlazeFaceConfig, image: np.ndarray) -> list[FaceDetection]:
        inp, side, pad = _letterbox(image, cfg.input_size)
        interp.set_tensor(interp.get_input_details()[0]["index"], (inp * 2.0 - 1.0)[None].astype(np.float32))
        interp.invoke()
        outs = [interp.get_tensor(d["index"])[0] for d in interp.get_output_details()]
        regress = next(o for o in outs if o.shape[-1] == 16)
        logits = next(o for o in outs if o.shape[-1] == 1)[:, 0]
        anchors = self._anchors[id(cfg)]
        scores = _sigmoid(logits)
        keep = scores >= cfg.min_score
        if not keep.any():
            return []
        reg = regress[keep] / cfg.input_size
        anc = anchors[keep]
        centre = anc + reg[:, 0:2]
        half = reg[:, 2:4] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = anc[:, None, :] + reg[:, 4:16].reshape(-1, 6, 2)
        faces = []
        for box, kp, score in weighted_nms(boxes, kps, scores[keep]):
            box_px = box * side + np.concatenate([pad, pad])
            faces.append(FaceDetection(box_px.astype(np.float32), (kp * side + pad).astype(np.float32), score))
        return faces

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """Faces in an (H, W, 3) uint8 image, largest first.

        The short-range model on the whole image, then the full-range one, then, for a large image
        where neither found a face with confidence (a small face in a big photo shrinks to a few pixels
        of their input, and its box comes out loose), the short-range model on overlapping tiles.
        """
        faces = self._run_detector(self._short, SHORT_RANGE, image)
        if not faces:
            faces = self._run_detector(self._full, FULL_RANGE, image)
        if max(image.shape[:2]) > TILE_SIZE and best_score(faces) < TILE_RETRY_SCORE:
            tiled = self.detect_tiled(image)
            if best_score(tiled) > best_score(faces):
                faces = tiled
        return sorted(faces, key=lambda f: -f.area)

    def detect_tiled(self, image: np.ndarray) -> list[FaceDetection]:
        """Faces found by the short-range model on overlapping :data:`TILE_SIZE` tiles (small faces in big photos)."""
        h, w = image.shape[:2]
        found = []
        for y0 in tile_starts(h, TILE_SIZE, TILE_STRIDE):
            for x0 in tile_starts(w, TILE_SIZE, TILE_STRIDE):
                tile = image[y0 : y0 + TILE_SIZE, x0 : x0 + TILE_SIZE]
                offset = np.array([x0, y0], np.float32)
                found += [FaceDetection(f.box + np.tile(offset, 2), f.keypoints + offset, f.score)
                          for f in self._run_detector(self._short, SHORT_RANGE, tile)]
        if not found:
            return []
        merged = weighted_nms(np.stack([f.box for f in found]), np.stack([f.keypoints for f in found]),
                              np.array([f.score for f in found]))
        return [FaceDetection(box.astype(np.float32), kps.astype(np.float32), score) for box, kps, score in merged]

    # -- landmarks -------------------------------------------------------------------------
    @staticmethod
    def roi_from_detection(face: FaceDetection) -> tuple[float, float, float, float]:
        """Rotated square crop: levelled on the eyes, 1.5x the longest box side."""
        (x0, y0), (x1, y1) = face.keypoints[0], face.keypoints[1]
        angle = math.atan2(y1 - y0, x1 - x0)
        cx, cy = (face.box[0] + face.box[2]) / 2.0, (face.box[1] + face.box[3]) / 2.0
        return float(cx), float(cy), face.size * ROI_SCALE, float(angle)

    @staticmethod
    def roi_from_points(points: np.ndarray) -> tuple[float, float, float, float]:
        """Crop for a second pass: levelled on the outer eye corners, 1.5x the points' extent."""
        p = points[:, :2]
        d = p[LEFT_EYE_OUTER] - p[RIGHT_EYE_OUTER]
        angle = math.atan2(d[1], d[0])
        c, s = math.cos(angle), math.sin(angle)
        rot = np.array([[c, s], [-s, c]])  # image -> levelled frame
        q = p @ rot.T
        lo, hi = q.min(0), q.max(0)
        centre = ((lo + hi) / 2.0) @ rot  # back to image
        size = float((hi - lo).max()) * ROI_SCALE
        return float(centre[0]), float(centre[1]), size, float(angle)

    def mesh_in_roi(self, image: np.ndarray, roi: tuple[float, float, float, float]) -> FaceMesh:
        crop = sample_roi(image, roi, MESH_SIZE)
        interp = self._mesh
        interp.set_tensor(interp.get_input_details()[0]["index"], crop[None])
        interp.invoke()
        outs = {d["name"]: interp.get_tensor(d["index"]).reshape(-1) for d in interp.get_output_details()}
        coords = next(v for v in outs.values() if v.size == 468 * 3).reshape(468, 3)
        presence = float(_sigmoid(next(v for v in outs.values() if v.size == 1))[0])
        return FaceMesh(roi_to_image(coords, roi, MESH_SIZE).astype(np.float32), presence, roi)

    def face_mesh(self, image: np.ndarray, face: FaceDetection, refine: int = 1) -> FaceMesh:
        """468 points of ``face``; ``refine`` extra passes re-crop around the previous points."""
        mesh = self.mesh_in_roi(image, self.roi_from_detection(face))
        for _ in range(refine):
            mesh = self.mesh_in_roi(image, self.roi_from_points(mesh.points))
        return mesh
