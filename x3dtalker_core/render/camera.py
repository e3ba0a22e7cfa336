"""Cameras for rendering mesh sequences: one per-frame view plus an orthographic or perspective lens.

Conventions (OpenGL, the same as FLAME's): world +y is up, the face looks along +z; a camera looks
along its own -z with +y up, so a frontal camera sits on the +z axis. ``view`` maps world points to
camera coordinates; the *view depth* of a point is ``-z_camera`` (metres, positive in front).

Lenses:

- **orthographic** (EMOCA/DECA ``cam = (s, tx, ty)``): ``ndc_x = s * (X + tx)``, ``ndc_y = s * (Y + ty)``,
  which is DECA's ``batch_orth_proj``. The fitted camera therefore puts the mesh exactly where it
  sits in the (square, 224-pixel) EMOCA crop of the reference photo. For a non-square output the
  scale fits the height and the width shows more.
- **perspective**: vertical field of view ``fov_y`` (radians).

Presets (``static``, ``orbit``, ``dolly``, ``pan``) and keyframed paths are built around a framing
(:class:`Framing`: a look-at target and a distance that fits the head), see :func:`camera_preset`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import X3DError

ORTHOGRAPHIC = "orthographic"
PERSPECTIVE = "perspective"

PRESETS = ("static", "orbit", "dolly", "pan")
"""Names accepted by :func:`camera_preset` (plus ``keys:`` strings, see :func:`parse_keyframes`)."""

DEFAULT_FOV_DEG = 20.0
"""A portrait lens (about 70 mm full-frame): little perspective distortion of the face."""


@dataclass(frozen=True)
class Camera:
    """A camera per frame (T = 1 means the same camera for every frame).

    Attributes:
        kind: ``"orthographic"`` or ``"perspective"``.
        view: (T, 4, 4) float64 world -> camera transform (camera looks along -z, +y up).
        fov_y: (T,) vertical field of view in radians (perspective only).
        scale: (T,) NDC units per metre vertically (orthographic only; EMOCA's ``s``).
    """

    kind: str
    view: np.ndarray
    fov_y: np.ndarray | None = None
    scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        view = np.asarray(self.view, dtype=np.float64)
        if view.ndim == 2:
            view = view[None]
        if view.ndim != 3 or view.shape[1:] != (4, 4) or view.shape[0] == 0:
            raise X3DError(f"camera view must have shape (T, 4, 4), got {view.shape}")
        object.__setattr__(self, "view", view)
        t = view.shape[0]
        if self.kind == PERSPECTIVE:
            fov = _per_frame(self.fov_y, t, "fov_y")
            if np.any(fov <= 0) or np.any(fov >= math.pi):
                raise X3DError("perspective field of view must be in (0, 180) degrees")
            object.__setattr__(self, "fov_y", fov)
        elif self.kind == ORTHOGRAPHIC:
            scale = _per_frame(self.scale, t, "scale")
            if np.any(scale <= 0):
                raise X3DError("orthographic camera scale must be positive (EMOCA cam[:, 0] > 0)")
            object.__setattr__(self, "scale", scale)
        else:
            raise X3DError(f"camera kind must be '{ORTHOGRAPHIC}' or '{PERSPECTIVE}', got {self.kind!r}")
        if not np.all(np.isfinite(view)):
            raise X3DError("camera view contains NaN or infinite values")

    @property
    def num_frames(self) -> int:
        return self.view.shape[0]

    def frame_index(self, t: int) -> int:
        """Index into this camera's arrays for clip frame ``t`` (a single camera serves every frame)."""
        return 0 if self.num_frames == 1 else t

    def slice(self, start: int, stop: int, step: int = 1) -> Camera:
        """The cameras of clip frames ``start:stop:step`` (a single camera is returned as is)."""
        if self.num_frames == 1:
            return self
        sl = slice(start, stop, step)
        return Camera(
            self.kind,
            self.view[sl],
            fov_y=None if self.fov_y is None else self.fov_y[sl],
            scale=None if self.scale is None else self.scale[sl],
        )

    def window(self, start: int, count: int) -> Camera:
        """The cameras of clip frames ``start .. start + count``, holding the last frame past the clip's end."""
        if self.num_frames == 1:
            return self
        idx = np.minimum(np.arange(start, start + count), self.num_frames - 1)
        return Camera(
            self.kind,
            self.view[idx],
            fov_y=None if self.fov_y is None else self.fov_y[idx],
            scale=None if self.scale is None else self.scale[idx],
        )

    def check_frames(self, num_frames: int) -> None:
        if self.num_frames not in (1, num_frames):
            raise X3DError(f"camera has {self.num_frames} frames but the mesh sequence has {num_frames}")

    def projection(self, t: int, aspect: float, near: float, far: float) -> np.ndarray:
        """(4, 4) OpenGL projection of frame ``t`` for ``aspect = width / height`` and clip planes."""
        i = self.frame_index(t)
        p = np.zeros((4, 4))
        if self.kind == PERSPECTIVE:
            f = 1.0 / math.tan(float(self.fov_y[i]) / 2.0)
            p[0, 0] = f / aspect
            p[1, 1] = f
            p[2, 2] = (far + near) / (near - far)
            p[2, 3] = 2.0 * far * near / (near - far)
            p[3, 2] = -1.0
        else:
            s = float(self.scale[i])
            p[0, 0] = s / aspect
            p[1, 1] = s
            p[2, 2] = -2.0 / (far - near)
            p[2, 3] = -(far + near) / (far - near)
            p[3, 3] = 1.0
        return p

    def view_depth(self, points: np.ndarray, t: int) -> np.ndarray:
        """(N,) view depth in metres of world ``points`` (N, 3) for frame ``t``."""
        v = self.view[self.frame_index(t)]
        return -(points @ v[2, :3] + v[2, 3])


def _per_frame(value: np.ndarray | float | None, t: int, name: str) -> np.ndarray:
    if value is None:
        raise X3DError(f"camera {name} is required for this camera kind")
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape[0] == 1 and t > 1:
        arr = np.repeat(arr, t)
    if arr.shape[0] != t:
        raise X3DError(f"camera {name} must have one value per view ({t}), got {arr.shape[0]}")
    return arr


# -- building blocks ----------------------------------------------------------------------------

def look_at(eye: np.ndarray, target: np.ndarray, up: Sequence[float] = (0.0, 1.0, 0.0)) -> np.ndarray:
    """(..., 4, 4) world -> camera transforms for cameras at ``eye`` (..., 3) looking at ``target``."""
    eye = np.asarray(eye, np.float64)
    target = np.broadcast_to(np.asarray(target, np.float64), eye.shape)
    back = eye - target
    back = back / np.linalg.norm(back, axis=-1, keepdims=True)
    right = np.cross(np.broadcast_to(np.asarray(up, np.float64), back.shape), back)
    right = right / np.linalg.norm(right, axis=-1, keepdims=True)
    true_up = np.cross(back, right)
    rot = np.stack([right, true_up, back], axis=-2)  # rows: camera axes in world coordinates
    view = np.zeros(eye.shape[:-1] + (4, 4))
    view[..., :3, :3] = rot
    view[..., :3, 3] = -np.einsum("...ij,...j->...i", rot, eye)
    view[..., 3, 3] = 1.0
    return view


def orthographic_from_emoca(cam: np.ndarray, distance: float = 1.0) -> Camera:
    """The EMOCA/DECA orthographic camera ``cam`` (T, 3) or (3,) = (scale, tx, ty).

    The camera sits ``distance`` metres in front of the origin on +z (only depth values depend on
    it: view depth = ``distance - Z``).
    """
    cam = np.asarray(cam, np.float64)
    if cam.ndim == 1:
        cam = cam[None]
    if cam.ndim != 2 or cam.shape[1] != 3:
        raise X3DError(f"EMOCA camera must have shape (T, 3) = (scale, tx, ty), got {cam.shape}")
    view = np.tile(np.eye(4), (cam.shape[0], 1, 1))
    view[:, 0, 3] = cam[:, 1]
    view[:, 1, 3] = cam[:, 2]
    view[:, 2, 3] = -distance
    return Camera(ORTHOGRAPHIC, view, scale=cam[:, 0])


def photo_cam(cam: np.ndarray, crop, image_size, aspect: float | None = None) -> np.ndarray:
    """Re-express an EMOCA camera fitted on a square face crop for the whole photo.

    EMOCA's ``cam = (s, tx, ty)`` maps FLAME points to the crop's NDC: ``x = s (X + tx)``, ``y = s (Y + ty)``
    (y up). The crop ``(x0, y0, size)`` sits at those pixels of a ``(H, W)`` photo, so the same points land
    at photo NDC ``x' = s·size/W (X + tx) + (2 x0 + size - W) / W`` (and likewise for y, flipped). Rendering
    with the returned camera at the photo's aspect therefore lines the head up with the photo, pixel for
    pixel — what Wan Fun-Control needs when the photo is its reference image.

    Args:
        cam: (T, 3) or (3,) EMOCA camera for the crop.
        crop: (x0, y0, size) of the square crop in photo pixels.
        image_size: (H, W) of the photo.
        aspect: output width / height; the photo is centre-cropped to it (as ComfyUI's resize with
            centre crop does), None keeps the photo's own aspect.

    Returns:
        (T, 3) EMOCA-form camera for the (centre-cropped) photo frame.
    """
    cam = np.atleast_2d(np.asarray(cam, np.float64))
    x0, y0, size = (float(v) for v in crop)
    height, width = (float(v) for v in image_size)
    if size <= 0 or height <= 0 or width <= 0:
        raise X3DError(f"photo framing needs a positive crop size and image size, got crop {crop}, image {image_size}")
    if aspect is not None:
        if width / height > aspect:
            cut = width - height * aspect
            x0, width = x0 - cut / 2, width - cut
        else:
            cut = height - width / aspect
            y0, height = y0 - cut / 2, height - cut
    s, tx, ty = cam[:, 0], cam[:, 1], cam[:, 2]
    return np.stack([
        s * size / height,
        tx + (2 * x0 + size - width) / (size * s),
        ty + (height - 2 * y0 - size) / (size * s),
    ], axis=1)


@dataclass(frozen=True)
class Framing:
    """Where a preset camera looks: ``target`` (3,) world point and ``distance`` (m) that fits the head."""

    target: np.ndarray
    distance: float
    fov_y: float

    @classmethod
    def fit(cls, vertices: np.ndarray, fov_deg: float = DEFAULT_FOV_DEG, margin: float = 1.15) -> Framing:
        """Frame the bounding sphere of ``vertices`` (T, V, 3) or (V, 3), padded by ``margin``."""
        pts = np.asarray(vertices, np.float64).reshape(-1, 3)
        lo, hi = pts.min(0), pts.max(0)
        target = (lo + hi) / 2.0
        radius = float(np.linalg.norm(pts - target, axis=1).max()) * margin
        fov = math.radians(fov_deg)
        return cls(target=target, distance=radius / math.sin(fov / 2.0), fov_y=fov)


@dataclass(frozen=True)
class CameraKey:
    """One keyframe of a camera path around a :class:`Framing` (angles in degrees, lengths in metres).

    ``zoom`` scales the framing distance (0.7 = 30 % closer); ``pan_x``/``pan_y`` move camera and
    target together along the camera's right/up axes.
    """

    time: float
    yaw: float = 0.0
    pitch: float = 0.0
    zoom: float = 1.0
    pan_x: float = 0.0
    pan_y: float = 0.0


def keyframed_camera(keys: Sequence[CameraKey], framing: Framing, num_frames: int, fps: float) -> Camera:
    """A perspective path through ``keys`` (eased between keys, held before the first and after the last)."""
    if not keys:
        raise X3DError("a keyframed camera needs at least one key")
    keys = sorted(keys, key=lambda k: k.time)
    times = np.array([k.time for k in keys])
    if np.any(np.diff(times) <= 0):
        raise X3DError("camera keyframe times must be distinct")
    t = np.arange(num_frames) / fps
    fields = ("yaw", "pitch", "zoom", "pan_x", "pan_y")
    table = np.array([[getattr(k, f) for f in fields] for k in keys])  # (K, 5)
    if len(keys) == 1:
        values = np.repeat(table, num_frames, axis=0)
    else:
        seg = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(keys) - 2)
        u = np.clip((t - times[seg]) / (times[seg + 1] - times[seg]), 0.0, 1.0)
        u = u * u * (3.0 - 2.0 * u)  # smoothstep: the camera starts and stops without a jolt
        values = table[seg] + (table[seg + 1] - table[seg]) * u[:, None]
    yaw, pitch, zoom, pan_x, pan_y = (np.radians(values[:, 0]), np.radians(values[:, 1]), *values[:, 2:].T)
    if np.any(zoom <= 0):
        raise X3DError("camera zoom must be positive")
    direction = np.stack([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)], axis=1)
    target = np.broadcast_to(framing.target, (num_frames, 3))
    eye = target + direction * (framing.distance * zoom)[:, None]
    view = look_at(eye, target)
    # panning slides the camera along its own axes after aiming, so the head drifts across the frame
    view[:, 0, 3] -= pan_x
    view[:, 1, 3] -= pan_y
    return Camera(PERSPECTIVE, view, fov_y=np.full(num_frames, framing.fov_y))


def camera_preset(name: str, framing: Framing, num_frames: int, fps: float) -> Camera:
    """A named camera move over a clip of ``num_frames`` at ``fps``.

    - ``static``: frontal, fixed.
    - ``orbit``: a slow swing of +-25 degrees yaw (period 8 s) with a slight 5-degree pitch.
    - ``dolly``: dolly in from the fitted distance to 70 % of it over the clip.
    - ``pan``: the camera slides from left to right by a third of the head size over the clip.
    - ``keys:...``: a keyframed path (see :func:`parse_keyframes`).
    """
    duration = max(num_frames - 1, 1) / fps
    if name.startswith("keys:"):
        return keyframed_camera(parse_keyframes(name[5:]), framing, num_frames, fps)
    if name == "static":
        keys = [CameraKey(0.0)]
    elif name == "orbit":
        t = np.arange(num_frames) / fps
        yaw = 25.0 * np.sin(2.0 * math.pi * t / 8.0)
        keys_per_frame = [CameraKey(float(ti), yaw=float(y), pitch=5.0) for ti, y in zip(t, yaw)]
        return keyframed_camera(keys_per_frame, framing, num_frames, fps)
    elif name == "dolly":
        keys = [CameraKey(0.0), CameraKey(duration, zoom=0.7)]
    elif name == "pan":
        half = framing.distance * math.tan(framing.fov_y / 2.0) / 3.0
        keys = [CameraKey(0.0, pan_x=-half), CameraKey(duration, pan_x=half)]
    else:
        raise X3DError(f"unknown camera preset {name!r}: use one of {', '.join(PRESETS)}, 'fitted' or 'keys:...'")
    return keyframed_camera(keys, framing, num_frames, fps)


def parse_keyframes(text: str) -> list[CameraKey]:
    """Parse ``"0:yaw=0,zoom=1; 2.5:yaw=20,pitch=5; 5:zoom=0.8"`` into :class:`CameraKey` s.

    Each ``;``-separated key is ``TIME:field=value,...`` with fields yaw, pitch, zoom, pan_x, pan_y;
    fields left out keep their defaults (0, 0, 1, 0, 0).
    """
    keys = []
    for chunk in filter(None, (c.strip() for c in text.split(";"))):
        time_text, _, rest = chunk.partition(":")
        try:
            values = {"time": float(time_text)}
            for item in filter(None, (i.strip() for i in rest.split(","))):
                field_name, _, value = item.partition("=")
                if field_name.strip() not in ("yaw", "pitch", "zoom", "pan_x", "pan_y"):
                    raise ValueError(f"unknown field {field_name.strip()!r}")
                values[field_name.strip()] = float(value)
        except ValueError as exc:
            raise X3DError(
                f"bad camera keyframe {chunk!r} ({exc}); write e.g. '0:yaw=0;2.5:yaw=20,pitch=5,zoom=0.8'"
            ) from None
        keys.append(CameraKey(**values))
    if not keys:
        raise X3DError("camera keyframes are empty; write e.g. 'keys:0:yaw=0;2.5:yaw=20'")
    return keys
