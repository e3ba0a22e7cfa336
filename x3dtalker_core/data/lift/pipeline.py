"""Lifting talking videos into FLAME sequences (paper §3.1 "each video frame is lifted into the FLAME
parameter space using the EMOCA encoder"; Appendix B.1 last step).

Per video: frames at 25 fps → the face of every frame reconstructed by EMOCA (``emoca``, the paper's)
or the MediaPipe landmark fitter (``landmarks``, offline) → one identity (the median shape code over
the clip: a clip shows one person) → frames where no face was found filled by linear interpolation
(a clip with too many is rejected) → optional Savitzky-Golay smoothing of expression, pose and camera
→ a sequence folder in the dataset layout (``shapecode/expcode/posecode/detailcode/cam.npy``,
``envelope.npy``, ``audio.wav``, ``metadata.json``) that the training reader loads as is.

Like ``curate`` it appends one manifest row per video (``lift_manifest*.jsonl``), resumes by
skipping videos with a row, and shards with ``i/n``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import FPS
from ...errors import X3DError
from ...params import N_CAM, PARAM_DIM, FlameSequence
from ..curate.manifest import Manifest, Shard
from ..video import iter_frames, list_videos

BACKENDS = ("landmarks", "emoca")
SHAPE = slice(0, 100)
SMOOTHED = slice(100, 156)  # expression + head/jaw pose; shape is constant and detail left as estimated


@dataclass(frozen=True)
class LiftConfig:
    """How videos are lifted."""

    backend: str = "landmarks"
    smooth: int = 0  # Savitzky-Golay window in frames (odd, >= 5); 0 = raw per-frame estimates
    max_missing: float = 0.2  # largest fraction of frames without a face before a clip is rejected
    size: int | None = None  # rescale + centre crop frames first (None: as stored, e.g. curated 512²)
    fps: float = FPS

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise X3DError(f"unknown lift backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.smooth and (self.smooth < 5 or self.smooth % 2 == 0):
            raise X3DError(f"--smooth must be 0 or an odd window of at least 5 frames, got {self.smooth}")
        if not 0.0 <= self.max_missing < 1.0:
            raise X3DError("--max-missing must be in [0, 1)")


def make_reconstructor(backend: str, emoca_path=None):
    """A per-frame reconstructor (models loaded once)."""
    from ...reconstruct import EmocaReconstructor, LandmarkReconstructor

    return LandmarkReconstructor() if backend == "landmarks" else EmocaReconstructor(emoca_path)


@dataclass(frozen=True)
class FrameTrack:
    """Per-frame estimates of one clip: params (T, 284), cam (T, 3), found (T,) bool, confidence (T,)."""

    params: np.ndarray
    cam: np.ndarray
    found: np.ndarray
    confidence: np.ndarray


def track_frames(frames, reconstructor) -> FrameTrack:
    """Reconstruct every frame of an iterable of (H, W, 3) uint8 images; faceless frames are marked."""
    params, cams, found, conf = [], [], [], []
    for image in frames:
        try:
            r = reconstructor(image)
        except X3DError:  # no face / tiny face / profile on this frame: filled in later
            params.append(np.zeros(PARAM_DIM, np.float32))
            cams.append(np.zeros(N_CAM, np.float32))
            found.append(False)
            conf.append(0.0)
            continue
        params.append(r.params.to_vector())
        cams.append(np.asarray(r.params.cam, np.float32))
        found.append(True)
        conf.append(r.confidence)
    if not params:
        raise X3DError("the video has no frames")
    return FrameTrack(np.stack(params), np.stack(cams), np.array(found), np.array(conf, np.float32))


def fill_missing(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(T, D) with rows where ``found`` is False replaced by linear interpolation (held at the ends)."""
    if found.all():
        return values
    t = np.arange(values.shape[0])
    out = values.copy()
    for d in range(values.shape[1]):
        out[~found, d] = np.interp(t[~found], t[found], values[found, d])
    return out


def smooth_track(values: np.ndarray, window: int, polyorder: int = 2) -> np.ndarray:
    """Savitzky-Golay along time, (T, D) -> (T, D); clips shorter than the window are left as they are."""
    from scipy.signal import savgol_filter

    if window <= 0 or values.shape[0] < window:
        return values
    return savgol_filter(values, window, polyorder, axis=0, mode="interp").astype(values.dtype)


def assemble_sequence(track: FrameTrack, config: LiftConfig) -> FlameSequence:
    """One identity, gaps filled, optional smoothing: the clip's :class:`FlameSequence` (cam set)."""
    params = fill_missing(track.params, track.found)
    cam = fill_missing(track.cam, track.found)
    params[:, SHAPE] = np.median(params[track.found][:, SHAPE], axis=0)
    if config.smooth:
        params[:, SMOOTHED] = smooth_track(params[:, SMOOTHED], config.smooth)
        cam = smooth_track(cam, config.smooth)
    return FlameSequence(params.astype(np.float32), fps=config.fps, cam=cam.astype(np.float32))


def _clip_audio(video: Path, num_frames: int) -> np.ndarray:
    """16 kHz audio fitted to the frames: the curated sibling ``.wav`` when present, else the video's track."""
    from ...audio import fit_to_frames, load_audio

    wav = video.with_suffix(".wav")
    return fit_to_frames(load_audio(wav if wav.is_file() else video), num_frames)


def lift_video(video: Path, folder: Path, config: LiftConfig, reconstructor) -> dict:
    """Lift one video into the sequence folder ``folder``; returns the manifest measures.

    Raises:
        X3DError: no face in too many frames, no audio, unreadable file.
    """
    from ...audio import amplitude_envelope
    from ..layout import write_sequence_dir

    track = track_frames(iter_frames(video, config.fps, config.size), reconstructor)
    t = track.found.size
    missing = float(1.0 - track.found.mean())
    if missing > config.max_missing:
        raise X3DError(f"no face in {missing:.0%} of the frames (limit {config.max_missing:.0%})")
    audio = _clip_audio(video, t)
    seq = assemble_sequence(track, config)
    measures = {"frames": t, "missing_frames": int((~track.found).sum()),
                "mean_confidence": round(float(track.confidence[track.found].mean()), 4)}
    seq = FlameSequence(seq.params, fps=seq.fps, cam=seq.cam,
                        metadata={"source": video.name, "backend": config.backend, "smooth": config.smooth, **measures})
    write_sequence_dir(folder, seq, audio=audio, envelope=amplitude_envelope(audio))
    return measures


@dataclass(frozen=True)
class LiftSummary:
    processed: int
    lifted: int
    failed: int
    skipped: int
    seconds: float


def lift(videos: str | Path, out: str | Path, config: LiftConfig = LiftConfig(), shard: Shard = Shard(),
         emoca_path=None, reconstructor=None, progress: bool = True,
         on_video: Callable[[str, dict], None] | None = None) -> LiftSummary:
    """Lift every video under ``videos`` into sequence folders ``out/<relative path>/``; resumable, shardable."""
    from tqdm import tqdm

    config.check()
    root, out = Path(videos), Path(out)
    paths = list_videos(root)
    if not paths:
        raise X3DError(f"no video files under {root} (looked for .mp4, .mov, .mkv, ...)")
    manifest = Manifest(out, "lift_manifest", shard)
    done = manifest.done()
    todo = [p for p in paths if shard.owns(p.relative_to(root).as_posix())
            and p.relative_to(root).as_posix() not in done]
    skipped = sum(shard.owns(p.relative_to(root).as_posix()) for p in paths) - len(todo)
    if todo and reconstructor is None:
        reconstructor = make_reconstructor(config.backend, emoca_path)
    lifted = failed = 0
    start = time.perf_counter()
    for path in tqdm(todo, desc="lift", unit="video", disable=not progress):
        rel = path.relative_to(root).as_posix()
        folder = out / rel.rsplit(".", 1)[0]
        t0 = time.perf_counter()
        try:
            measures = lift_video(path, folder, config, reconstructor)
            row = {"id": rel, "status": "lifted", "sequence": folder.relative_to(out).as_posix(), **measures}
            lifted += 1
        except X3DError as exc:
            row = {"id": rel, "status": "failed", "reason": str(exc)}
            failed += 1
        row["seconds"] = round(time.perf_counter() - t0, 3)
        manifest.append(row)
        if on_video is not None:
            on_video(rel, row)
    return LiftSummary(len(todo), lifted, failed, skipped, time.perf_counter() - start)
