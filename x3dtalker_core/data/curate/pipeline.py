"""The curation job (paper §3.1, Appendix B.1): five filters, then normalised clips + a manifest.

For every unit (an input video, or short clips stitched into one sequence) in this shard that has
no manifest row yet, in order, stopping at the first failing filter:

1. duration >= ``min_duration`` s (stitched units: the sum of their clips);
2. speech SNR >= ``min_snr_db`` (:mod:`.snr`; silent audio fails here);
3. Whisper says ``language`` with probability >= ``min_language_prob`` (:mod:`.language`);
4. audio-visual sync: |offset| <= ``max_sync_offset`` frames and confidence >= the threshold
   (SyncNet :mod:`.syncnet` on face-track crops, or the weights-free :mod:`.motion_sync`; ``auto`` says
   once when it falls back to the latter);
5. normalisation: shorter side to ``size``, centre ``size``² crop, ``fps`` frames per second, 16 kHz
   mono audio → ``<out>/clips/<name>.mp4`` (H.264 + AAC) and ``<name>.wav`` (lossless 16 kHz).

Each input gets one manifest row: ``status`` kept/rejected, the rejecting ``filter`` and its
``value``, every measurement taken, and the outputs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ... import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from ...errors import X3DError
from ...io_utils import atomic_path
from ...render.video import probe_video
from ..video import iter_frames, list_videos
from .manifest import Manifest, Shard
from .motion_sync import motion_score
from .snr import estimate_snr_db
from .syncnet import MIN_TRACKED, face_track_crops, syncnet_score
from .units import Unit, plan_units

log = logging.getLogger(__name__)

FILTERS = ("duration", "snr", "language", "sync")
SYNC_MODELS = ("auto", "syncnet", "motion")
DEFAULT_SYNC_CONF = {"syncnet": 5.0, "motion": 0.3}


@dataclass(frozen=True)
class CurateConfig:
    """Filter switches and thresholds (defaults: the authors', Appendix B.1)."""

    duration: bool = True
    min_duration: float = 10.0
    snr: bool = True
    min_snr_db: float = 8.0
    language: bool = True
    language_code: str = "en"
    min_language_prob: float = 0.8
    sync: bool = True
    sync_model: str = "auto"
    min_sync_conf: float | None = None  # None: 5.0 for SyncNet, 0.3 for the motion check
    max_sync_offset: int = 3
    sync_seconds: float = 20.0
    size: int = 512
    fps: float = FPS
    stitch: str | None = None
    stitch_max: float = 20.0
    crf: int = 18

    def check(self) -> None:
        if self.sync_model not in SYNC_MODELS:
            raise X3DError(f"unknown --sync-model {self.sync_model!r}; choose one of {', '.join(SYNC_MODELS)}")
        if self.size < 16 or self.size % 2:
            raise X3DError(f"--size must be an even number of pixels >= 16, got {self.size}")
        if self.fps <= 0 or self.min_duration < 0 or self.sync_seconds <= 0:
            raise X3DError("--fps and --sync-seconds must be positive and --min-duration >= 0")


@dataclass
class Models:
    """The filters' networks, loaded once per run (None where the filter is off)."""

    language: Callable | None = None
    syncnet: object | None = None
    sync_method: str = "motion"
    face_detector: object | None = None  # SyncNet's face track (MediaPipe BlazeFace)


def load_models(config: CurateConfig, whisper_path=None, syncnet_path=None, device: str = "cpu") -> Models:
    """Load Whisper / SyncNet as the config asks; ``auto`` falls back to the motion check without SyncNet."""
    from ...assets import try_find_asset

    models = Models()
    if config.language:
        from .language import WhisperLanguageID

        if whisper_path is None and try_find_asset("whisper") is None:
            raise X3DError("the language filter needs Whisper weights: put a multilingual openai-whisper "
                           "checkpoint (e.g. base.pt) in <models>/3dxtalker/whisper/, pass --whisper PATH, "
                           "or turn the filter off with --no-language")
        models.language = WhisperLanguageID(whisper_path, device=device)
    if config.sync:
        use_syncnet = config.sync_model == "syncnet" or (
            config.sync_model == "auto" and (syncnet_path is not None or try_find_asset("syncnet") is not None))
        if use_syncnet:
            from ...reconstruct.detector import MediaPipeFaceMesh
            from .syncnet import load_syncnet

            models.syncnet = load_syncnet(syncnet_path, device=device)
            models.face_detector = MediaPipeFaceMesh()
            models.sync_method = "syncnet"
        elif config.sync_model == "auto":
            log.warning("sync filter: no SyncNet weights (asset 'syncnet', or --syncnet PATH), so the weights-free "
                        "mouth-motion check is used instead (weaker; threshold %s)", DEFAULT_SYNC_CONF["motion"])
    return models


@dataclass
class Outcome:
    """What happened to one unit."""

    status: str  # kept | rejected
    filter: str | None
    value: float | str | None
    measures: dict
    reason: str = ""
    outputs: dict | None = None


def _reject(name: str, value, measures: dict, reason: str) -> Outcome:
    return Outcome("rejected", name, value, measures, reason)


def _unit_audio(unit: Unit, frames_per_source: list[int]) -> np.ndarray | None:
    """The unit's 16 kHz audio, each source cut or padded to its video length (keeps AV alignment)."""
    from ...audio import load_audio

    parts = []
    for src, t in zip(unit.sources, frames_per_source):
        x = load_audio(src)
        n = t * SAMPLES_PER_FRAME
        parts.append(np.pad(x, (0, max(0, n - x.size)))[:n])
    return np.concatenate(parts)


def _to_sync_frame(frame: np.ndarray, method: str) -> np.ndarray:
    """The frame itself for SyncNet (cropped around the face track later), a small 64² copy for the motion check."""
    from PIL import Image

    if method == "syncnet":
        return frame
    return np.asarray(Image.fromarray(frame).resize((64, 64), Image.BILINEAR))


def _face_box(frame: np.ndarray, detector) -> np.ndarray:
    """(4,) the largest face's box in ``frame``, NaN when there is none."""
    faces = detector.detect(frame)
    return faces[0].box.astype(np.float64) if faces else np.full(4, np.nan)


def process_unit(unit: Unit, out: Path, config: CurateConfig, models: Models) -> Outcome:
    """Run the filters on one unit and write its normalised clip when it passes."""
    measures: dict = {}
    metas = [probe_video(src, decode=False) for src in unit.sources]
    if not all(m.audio_sample_rate is not None for m in metas):
        bad = [i for i, m in zip(unit.inputs, metas) if m.audio_sample_rate is None]
        return _reject("audio", None, measures, f"no audio stream in {', '.join(bad)}")
    duration = float(sum(m.video_seconds for m in metas))
    measures["duration_s"] = round(duration, 3)
    measures["source_size"] = [metas[0].width, metas[0].height]
    measures["source_fps"] = round(metas[0].fps, 3)
    if config.duration and duration < config.min_duration:
        return _reject("duration", round(duration, 3), measures, f"{duration:.2f} s < {config.min_duration} s")

    frames_per_source = [max(1, int(round(m.video_seconds * config.fps))) for m in metas]
    audio = _unit_audio(unit, [int(round(t * FPS / config.fps)) for t in frames_per_source])

    snr = estimate_snr_db(audio)
    measures["snr_db"] = None if snr is None else round(snr, 2)
    if config.snr and (snr is None or snr < config.min_snr_db):
        why = "silent audio" if snr is None else f"{snr:.1f} dB < {config.min_snr_db} dB"
        return _reject("snr", measures["snr_db"], measures, why)

    if config.language:
        guess = models.language(audio)
        prob = guess.probabilities.get(config.language_code, 0.0)
        measures.update(language=guess.language, language_prob=round(guess.probability, 4),
                        **{f"prob_{config.language_code}": round(prob, 4)})
        if prob < config.min_language_prob:
            return _reject("language", round(prob, 4), measures,
                           f"P({config.language_code}) = {prob:.2f} < {config.min_language_prob} "
                           f"(detected {guess.language})")

    return _normalise_and_sync(unit, out, config, models, audio, frames_per_source, measures)


def _normalise_and_sync(unit, out, config, models, audio, frames_per_source, measures) -> Outcome:
    from ...render.video import Mp4Writer

    total = sum(frames_per_source)
    audio = np.pad(audio, (0, max(0, total * SAMPLES_PER_FRAME - audio.size)))[: total * SAMPLES_PER_FRAME]
    sync_limit = int(round(config.sync_seconds * config.fps))
    sync_frames: list[np.ndarray] = []
    clip = out / "clips" / f"{unit.out_name}.mp4"
    writer = Mp4Writer(clip, config.fps, audio, SAMPLE_RATE, crf=config.crf)
    try:
        written = 0
        for src, t in zip(unit.sources, frames_per_source):
            count = 0
            for frame in iter_frames(src, config.fps, config.size, max_frames=t):
                writer.write(frame[None])
                if config.sync and len(sync_frames) < sync_limit:
                    sync_frames.append(_to_sync_frame(frame, models.sync_method))
                count += 1
            while count < t:  # a stream a frame short of its header duration: hold the last frame
                writer.write(frame[None])
                count += 1
            written += count
        measures["frames"] = written
        if config.sync:
            score = _sync(np.stack(sync_frames), audio, models)
            if score is None:
                writer.abort()
                return _reject("sync", None, measures, f"no face tracked through {MIN_TRACKED:.0%} of the "
                               f"first {len(sync_frames)} frames (SyncNet scores a face track)")
            conf_min = config.min_sync_conf if config.min_sync_conf is not None else DEFAULT_SYNC_CONF[score.method]
            measures.update(sync_method=score.method, sync_offset=score.offset,
                            sync_conf=round(score.confidence, 4))
            if abs(score.offset) > config.max_sync_offset:
                writer.abort()
                return _reject("sync", score.offset, measures,
                               f"audio offset {score.offset} frames (|offset| > {config.max_sync_offset})")
            if score.confidence < conf_min:
                writer.abort()
                return _reject("sync", round(score.confidence, 4), measures,
                               f"{score.method} confidence {score.confidence:.2f} < {conf_min}")
        writer.close()
    except BaseException:
        writer.abort()  # an interrupted unit leaves no partial clip behind
        raise
    wav = clip.with_suffix(".wav")
    import soundfile as sf

    with atomic_path(wav) as tmp:
        sf.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16")
    return Outcome("kept", None, None, measures, "",
                   {"video": clip.relative_to(out).as_posix(), "audio": wav.relative_to(out).as_posix()})


def _sync(frames: np.ndarray, audio: np.ndarray, models: Models):
    """SyncScore of the clip's first frames, or None when SyncNet finds no face track in them."""
    if models.sync_method == "syncnet":
        boxes = np.stack([_face_box(f, models.face_detector) for f in frames])
        crops = face_track_crops(frames, boxes)
        return None if crops is None else syncnet_score(models.syncnet, crops, audio)
    return motion_score(frames, audio)


@dataclass(frozen=True)
class CurateSummary:
    """Counts of this call (``skipped`` = units already in the manifest)."""

    processed: int
    kept: int
    rejected: int
    skipped: int
    seconds: float


def curate(videos: str | Path, out: str | Path, config: CurateConfig = CurateConfig(), shard: Shard = Shard(),
           whisper_path=None, syncnet_path=None, device: str = "cpu", progress: bool = True,
           on_unit: Callable[[Unit, Outcome], None] | None = None) -> CurateSummary:
    """Curate every video under ``videos`` into ``out`` (see the module doc); resumable and shardable.

    ``on_unit`` is called after each unit's row is written (progress hooks, tests).
    """
    config.check()
    root, out = Path(videos), Path(out)
    paths = list_videos(root)
    if not paths:
        raise X3DError(f"no video files under {root} (looked for .mp4, .mov, .mkv, .avi, .webm, ...)")
    durations = {p: probe_video(p, decode=False).video_seconds for p in paths} if config.stitch else None
    units = [u for u in plan_units(paths, root, config.stitch, durations, config.min_duration, config.stitch_max)
             if shard.owns(u.id)]
    manifest = Manifest(out, "manifest", shard)
    done = {row.get("unit") for row in manifest.rows()}
    todo = [u for u in units if u.id not in done]
    models = load_models(config, whisper_path, syncnet_path, device) if todo else Models()
    from tqdm import tqdm

    kept = rejected = 0
    start = time.perf_counter()
    for unit in tqdm(todo, desc="curate", unit="video", disable=not progress):
        t0 = time.perf_counter()
        try:
            outcome = process_unit(unit, out, config, models)
        except X3DError as exc:  # an unreadable input is a rejected row, not a failed run
            outcome = _reject("input", None, {}, str(exc))
        for rel in unit.inputs:
            manifest.append({
                "id": rel, "unit": unit.id, "status": outcome.status, "filter": outcome.filter,
                "value": outcome.value, "reason": outcome.reason, "measures": outcome.measures,
                "outputs": outcome.outputs, "stitched": list(unit.inputs) if unit.group else None,
                "seconds": round(time.perf_counter() - t0, 3),
            })
        kept += outcome.status == "kept"
        rejected += outcome.status != "kept"
        if on_unit is not None:
            on_unit(unit, outcome)
    with atomic_path(out / "curate_config.json") as tmp:
        tmp.write_text(json.dumps(asdict(config), indent=1))
    return CurateSummary(len(todo), kept, rejected, len(units) - len(todo), time.perf_counter() - start)
