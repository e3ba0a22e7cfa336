"""SyncNet (Chung & Zisserman, 2016) audio-visual sync scoring (paper Appendix B.1, step 4).

The network follows the public ``syncnet_v2.model`` state-dict layout (``netcnnaud.*``, ``netfcaud.*``,
``netcnnlip.*``, ``netfclip.*``): a 2-D CNN over 0.2 s of MFCCs (13 x 20) and a 3-D CNN over five
224² RGB frames, each ending in a 1024-d embedding. Its inputs are prepared as syncnet_python does:
MFCCs of the int16 PCM samples (:func:`syncnet_mfcc`) and face-track crops around the lower face
(:func:`face_track_crops`; our boxes come from MediaPipe's BlazeFace instead of S3FD, both
forehead-to-chin face boxes). For every video window the embedding distance to
the audio windows within +-``max_offset`` frames is measured; averaged over the clip, the offset with
the smallest distance is the AV offset and ``median - min`` of the distance curve is the confidence
the paper thresholds (>= 5 keeps a clip with the public weights).

``width`` scales every channel count (1.0 = the public model); tests save narrow random models in
the same key layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ... import FPS, SAMPLE_RATE
from ...errors import InvalidFileError

LIP_FRAMES = 5
LIP_SIZE = 224
MFCC_PER_FRAME = 4  # 100 Hz MFCCs, 25 fps video


def _ch(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


class SyncNet(nn.Module):
    """The two SyncNet streams; ``forward_audio`` (B, 1, 13, 20) and ``forward_lip`` (B, 3, 5, 224, 224)
    -> (B, embed) embeddings."""

    def __init__(self, width: float = 1.0, embed: int = 1024) -> None:
        super().__init__()
        a = [_ch(c, width) for c in (64, 192, 384, 256, 256, 512)]
        self.netcnnaud = nn.Sequential(
            nn.Conv2d(1, a[0], 3, 1, 1), nn.BatchNorm2d(a[0]), nn.ReLU(inplace=True), nn.MaxPool2d(1, 1),
            nn.Conv2d(a[0], a[1], 3, 1, 1), nn.BatchNorm2d(a[1]), nn.ReLU(inplace=True), nn.MaxPool2d(3, (1, 2)),
            nn.Conv2d(a[1], a[2], 3, 1, 1), nn.BatchNorm2d(a[2]), nn.ReLU(inplace=True),
            nn.Conv2d(a[2], a[3], 3, 1, 1), nn.BatchNorm2d(a[3]), nn.ReLU(inplace=True),
            nn.Conv2d(a[3], a[4], 3, 1, 1), nn.BatchNorm2d(a[4]), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(a[4], a[5], (5, 4), 1, 0), nn.BatchNorm2d(a[5]), nn.ReLU(),
        )
        v = [_ch(c, width) for c in (96, 256, 256, 256, 256, 512)]
        self.netcnnlip = nn.Sequential(
            nn.Conv3d(3, v[0], (5, 7, 7), (1, 2, 2), 0), nn.BatchNorm3d(v[0]), nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            nn.Conv3d(v[0], v[1], (1, 5, 5), (1, 2, 2), (0, 1, 1)), nn.BatchNorm3d(v[1]), nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            nn.Conv3d(v[1], v[2], (1, 3, 3), 1, (0, 1, 1)), nn.BatchNorm3d(v[2]), nn.ReLU(inplace=True),
            nn.Conv3d(v[2], v[3], (1, 3, 3), 1, (0, 1, 1)), nn.BatchNorm3d(v[3]), nn.ReLU(inplace=True),
            nn.Conv3d(v[3], v[4], (1, 3, 3), 1, (0, 1, 1)), nn.BatchNorm3d(v[4]), nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
            nn.Conv3d(v[4], v[5], (1, 6, 6), 1, 0), nn.BatchNorm3d(v[5]), nn.ReLU(inplace=True),
        )
        self.netfcaud = nn.Sequential(nn.Linear(a[5], a[5]), nn.BatchNorm1d(a[5]), nn.ReLU(), nn.Linear(a[5], embed))
        self.netfclip = nn.Sequential(nn.Linear(v[5], v[5]), nn.BatchNorm1d(v[5]), nn.ReLU(), nn.Linear(v[5], embed))

    def forward_audio(self, mfcc: torch.Tensor) -> torch.Tensor:
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lip(self, clips: torch.Tensor) -> torch.Tensor:
        return self.netfclip(self.netcnnlip(clips).flatten(1))


def load_syncnet(path: str | Path | None = None, device: str = "cpu") -> SyncNet:
    """SyncNet from a ``syncnet_v2.model`` state dict (asset ``syncnet`` when ``path`` is None).

    Channel widths and the embedding size are read from the file, so narrower models in the same
    layout load too.
    """
    if path is None:
        from ...assets import find_asset

        path = find_asset("syncnet")
    path = Path(path)
    if not path.is_file():
        raise InvalidFileError(f"SyncNet weights not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for foreign files
        raise InvalidFileError(f"cannot read SyncNet weights {path}: {str(exc)[:160]}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    key = "netcnnaud.0.weight"
    if not isinstance(state, dict) or key not in state or "netfcaud.3.weight" not in state:
        raise InvalidFileError(f"{path} is not a SyncNet state dict (expected keys netcnnaud.*, netcnnlip.*, ...)")
    width = state[key].shape[0] / 64
    model = SyncNet(width=width, embed=state["netfcaud.3.weight"].shape[0])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InvalidFileError(f"{path} does not match the SyncNet layout: {str(exc)[:200]}") from None
    return model.eval().to(device)


# ----------------------------------------------------------------------------------------------
# MFCC features (the classic speech front end SyncNet was trained on: 13 coefficients, 25 ms
# windows every 10 ms, 26 mel filters, pre-emphasis 0.97, lifter 22, c0 replaced by log energy)
# ----------------------------------------------------------------------------------------------
def _mel_filterbank(n_filters: int, nfft: int, sample_rate: int) -> np.ndarray:
    def hz2mel(h):
        return 2595 * np.log10(1 + h / 700.0)

    def mel2hz(m):
        return 700 * (10 ** (m / 2595.0) - 1)

    mels = np.linspace(hz2mel(0), hz2mel(sample_rate / 2), n_filters + 2)
    bins = np.floor((nfft + 1) * mel2hz(mels) / sample_rate).astype(int)
    fb = np.zeros((n_filters, nfft // 2 + 1))
    for j in range(n_filters):
        lo, mid, hi = bins[j], bins[j + 1], bins[j + 2]
        for i in range(lo, mid):
            fb[j, i] = (i - lo) / max(mid - lo, 1)
        for i in range(mid, hi):
            fb[j, i] = (hi - i) / max(hi - mid, 1)
    return fb


def mfcc(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_ceps: int = 13, n_filters: int = 26,
         nfft: int = 512, win_s: float = 0.025, hop_s: float = 0.01) -> np.ndarray:
    """(N,) waveform -> (F, 13) MFCCs at 100 Hz, F = 1 + ceil((N - win) / hop) (the tail zero-padded).

    Framing and every step follow ``python_speech_features.mfcc`` with its defaults, the front end
    syncnet_python feeds the network. The values depend on the waveform's scale (c0 is a log energy):
    give :func:`syncnet_mfcc` float audio to get what the public weights expect.
    """
    from scipy.fft import dct

    x = np.asarray(audio, np.float64).reshape(-1)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    win, hop = int(round(win_s * sample_rate)), int(round(hop_s * sample_rate))
    n = 1 if x.size <= win else 1 + int(np.ceil((x.size - win) / hop))
    x = np.pad(x, (0, (n - 1) * hop + win - x.size))
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    power = np.abs(np.fft.rfft(x[idx], nfft)) ** 2 / nfft
    eps = np.finfo(float).eps
    energy = power.sum(1)
    energy = np.where(energy == 0, eps, energy)
    feat = power @ _mel_filterbank(n_filters, nfft, sample_rate).T
    feat = np.where(feat == 0, eps, feat)
    ceps = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :n_ceps]
    ceps *= 1 + (22 / 2.0) * np.sin(np.pi * np.arange(n_ceps) / 22)
    ceps[:, 0] = np.log(energy)
    return ceps.astype(np.float32)


def to_int16_scale(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] -> the int16 PCM values a 16-bit WAV of it holds (as float64)."""
    x = np.asarray(audio, np.float64).reshape(-1)
    return np.clip(np.round(x * 32768.0), -32768, 32767)


def syncnet_mfcc(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """SyncNet's audio input: MFCCs of the int16 PCM samples (F, 13).

    syncnet_python reads the clip's 16-bit WAV with ``scipy.io.wavfile`` and computes MFCCs on the raw
    int16 values; on float audio in [-1, 1] c0 would sit 2 ln 32768 ~ 20.8 lower than the weights saw.
    """
    return mfcc(to_int16_scale(audio), sample_rate)


# ----------------------------------------------------------------------------------------------
# face-track crops (syncnet_python's run_pipeline: a face track, median-smoothed, cropped around
# the lower face and resized to 224², grey 110 padding)
# ----------------------------------------------------------------------------------------------
TRACK_SMOOTH = 13
"""Median-filter length over the track's box centre and size (frames), as syncnet_python."""
CROP_SCALE = 0.4
"""syncnet_python's ``--crop_scale``: the crop spans 1 + 2 x 0.4 box half-sizes below the box centre."""
PAD_VALUE = 110
MIN_TRACKED = 0.5
"""A clip whose face is found in fewer than this share of frames has no usable face track."""


def face_track(boxes: np.ndarray) -> np.ndarray | None:
    """Per-frame boxes (T, 4) x0, y0, x1, y1 (NaN rows: no face) -> (T, 3) smoothed centre x, y, half-size.

    Missing frames are linearly interpolated between detections (held at the ends), then centre and
    half-size (half the longer box side) are median-filtered over :data:`TRACK_SMOOTH` frames.
    None when fewer than :data:`MIN_TRACKED` of the frames have a face.
    """
    from scipy.signal import medfilt

    boxes = np.asarray(boxes, np.float64)
    found = np.all(np.isfinite(boxes), axis=1)
    if found.sum() < max(1, MIN_TRACKED * len(boxes)):
        return None
    t = np.arange(len(boxes))
    filled = np.stack([np.interp(t, t[found], boxes[found, k]) for k in range(4)], axis=1)
    half = np.maximum(filled[:, 3] - filled[:, 1], filled[:, 2] - filled[:, 0]) / 2.0
    cx, cy = (filled[:, 0] + filled[:, 2]) / 2.0, (filled[:, 1] + filled[:, 3]) / 2.0
    kernel = min(TRACK_SMOOTH, len(boxes) if len(boxes) % 2 else len(boxes) - 1)
    return np.stack([medfilt(v, kernel) if kernel > 1 else v for v in (cx, cy, half)], axis=1)


def crop_face(frame: np.ndarray, cx: float, cy: float, half: float) -> np.ndarray:
    """(H, W, 3) uint8 -> (224, 224, 3) uint8: the box half-size ``half`` above the centre, 1.8 x below,
    1.4 x each side (syncnet_python's crop), grey 110 beyond the frame, bilinear resize."""
    import torch.nn.functional as F

    pad = int(half * (1 + 2 * CROP_SCALE))
    padded = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), constant_values=PAD_VALUE)
    my, mx = cy + pad, cx + pad
    face = padded[int(my - half):int(my + half * (1 + 2 * CROP_SCALE)),
                  int(mx - half * (1 + CROP_SCALE)):int(mx + half * (1 + CROP_SCALE))]
    if face.shape[0] < 2 or face.shape[1] < 2:
        raise InvalidFileError(f"face box of half-size {half:.1f} px is too small to crop for SyncNet")
    t = torch.from_numpy(np.ascontiguousarray(face)).permute(2, 0, 1)[None].float()
    t = F.interpolate(t, size=(LIP_SIZE, LIP_SIZE), mode="bilinear", align_corners=False)
    return t[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def face_track_crops(frames: np.ndarray, boxes: np.ndarray) -> np.ndarray | None:
    """(T, H, W, 3) frames + (T, 4) per-frame face boxes (NaN: none) -> (T, 224, 224, 3) SyncNet input,
    or None when the face is not tracked through enough of the clip (:func:`face_track`)."""
    track = face_track(boxes)
    if track is None:
        return None
    return np.stack([crop_face(f, *track[i]) for i, f in enumerate(frames)])


@dataclass(frozen=True)
class SyncScore:
    """Audio-visual sync of a clip.

    Attributes:
        offset: frames the audio is late relative to the video (0 = in sync; negative = early).
        confidence: ``median - min`` of the mean distance (SyncNet) or correlation margin (motion).
        curve: (2 * max_offset + 1,) the per-offset measure (distance or correlation).
        method: ``syncnet`` or ``motion``.
    """

    offset: int
    confidence: float
    curve: np.ndarray
    method: str


def syncnet_score(model: SyncNet, frames: np.ndarray, audio: np.ndarray, max_offset: int = 15,
                  batch: int = 32) -> SyncScore:
    """Score face-track crops (T, 224, 224, 3) uint8 RGB at 25 fps against 16 kHz float audio (N,).

    ``frames`` are :func:`face_track_crops` of the clip (the lower-face crops the network was trained
    on); they go to the network as BGR 0..255 and the audio as MFCCs of its int16 samples
    (:func:`syncnet_mfcc`), the conventions of the public weights.
    """
    t = frames.shape[0]
    if t < LIP_FRAMES + 1:
        raise InvalidFileError(f"SyncNet needs at least {LIP_FRAMES + 1} frames, got {t}")
    if frames.shape[1:3] != (LIP_SIZE, LIP_SIZE):
        raise InvalidFileError(f"SyncNet frames must be {LIP_SIZE}x{LIP_SIZE}, got {frames.shape[1:3]}")
    device = next(model.parameters()).device
    need = int(round(t / FPS * SAMPLE_RATE)) + int(0.03 * SAMPLE_RATE)
    a = np.pad(np.asarray(audio, np.float32).reshape(-1)[:need], (0, max(0, need - np.size(audio))))
    cc = syncnet_mfcc(a)  # (F, 13) with F >= 4 T
    # windows start at frames 0 .. T - 6, as syncnet_python's evaluate loop (lastframe = T - 5)
    n = min(t - LIP_FRAMES, (cc.shape[0] - 20) // MFCC_PER_FRAME + 1)
    video = torch.from_numpy(np.ascontiguousarray(frames[..., ::-1])).float()  # RGB -> BGR
    vfeat, afeat = [], []
    with torch.no_grad():
        for s in range(0, n, batch):
            idx = range(s, min(s + batch, n))
            clips = torch.stack([video[i : i + LIP_FRAMES] for i in idx]).permute(0, 4, 1, 2, 3)
            vfeat.append(model.forward_lip(clips.to(device)).cpu())
            mf = torch.stack([torch.from_numpy(cc[MFCC_PER_FRAME * i : MFCC_PER_FRAME * i + 20].T) for i in idx])
            afeat.append(model.forward_audio(mf[:, None].to(device)).cpu())
    v, au = torch.cat(vfeat), torch.cat(afeat)
    curve = _distance_curve(v, au, max_offset)
    best = int(np.argmin(curve))
    return SyncScore(best - max_offset, float(np.median(curve) - curve[best]), curve, "syncnet")


def _distance_curve(v: torch.Tensor, a: torch.Tensor, max_offset: int) -> np.ndarray:
    """Mean over windows of ||v[i] - a[i + k]|| for k in -max_offset..max_offset (zero-padded audio)."""
    n = v.shape[0]
    padded = torch.cat([torch.zeros(max_offset, a.shape[1]), a, torch.zeros(max_offset, a.shape[1])])
    curve = np.zeros(2 * max_offset + 1)
    for j in range(2 * max_offset + 1):
        curve[j] = torch.nn.functional.pairwise_distance(v, padded[j : j + n]).mean().item()
    return curve
