"""Training data: 3DTalkingDataset folders -> precomputed feature cache -> random fixed-length crops.

``train --precompute`` runs the audio encoders once per clip and writes, per clip, a cache folder::

    <cache>/<linguistic>-<emotion>/<dataset root name>/<clip path relative to the root>/
        params.npy (T, 284)  linguistic.npy (T, D_l)  amplitude.npy (T, 1, per-clip normalised)
        emotion.npy (T, D_e)  envelope.npy (T, 640, raw sample envelope per frame: the authors'
        amplitude input)  meta.json (encoders, frames, source file sizes/mtimes)

Epochs then only memory-map these arrays (the authors re-decoded audio and re-ran both encoders on
every item). ``<cache>`` is ``<root>/.x3dtalker_features`` unless a features folder is given.

Crops: ``window`` consecutive frames from a uniformly random start (the authors' sampler skipped
one frame per window, REFERENCE-NOTES §1.2); the reference is the clip's first frame, optionally
with its lip seal loosened (``reference_seal``: portraits with the lips apart). Every crop is a pure
function of (seed, epoch, item), so a resumed run sees exactly the data it would have seen.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from ..audio.features import AudioFeatures
from ..data.layout import list_sequence_dirs, read_sequence_dir
from ..errors import InvalidFileError, X3DError
from ..io_utils import atomic_dir
from .. import SAMPLES_PER_FRAME
from ..model.flow import normalize_amplitude
from ..params import PARAM_DIM

log = logging.getLogger(__name__)

CACHE_DIRNAME = ".x3dtalker_features"
CACHE_VERSION = 1
ARRAYS = ("params", "linguistic", "amplitude", "emotion")
ENVELOPE = "envelope"
"""Optional cached array (caches written before it existed lack it; models reading it re-precompute)."""
SOURCE_FILES = ("audio.wav", "shapecode.npy", "expcode.npy", "posecode.npy", "detailcode.npy")

FeatureExtractor = Callable[..., AudioFeatures]
"""``extractor(audio_path, linguistic=..., emotion=...) -> AudioFeatures`` (the audio package's API)."""


@dataclass(frozen=True)
class ClipEntry:
    """One sequence folder and where its features are cached.

    Attributes:
        folder: the sequence folder.
        dataset: dataset name (first folder under the root, e.g. ``HDTF``; the root's name otherwise).
        cache: cache folder for this clip and encoder pair.
    """

    folder: Path
    dataset: str
    cache: Path


def discover_clips(roots: list[str | Path], linguistic: str, emotion: str,
                   features_dir: str | Path | None = None) -> list[ClipEntry]:
    """Every sequence folder under ``roots`` (sorted, deterministic), with its cache location."""
    entries: list[ClipEntry] = []
    for root in roots:
        root = Path(root)
        folders = [f for f in list_sequence_dirs(root) if CACHE_DIRNAME not in f.parts]
        base = Path(features_dir) / root.resolve().name if features_dir else root / CACHE_DIRNAME
        for folder in folders:
            rel = folder.relative_to(root)
            dataset = rel.parts[0] if len(rel.parts) > 1 else root.resolve().name
            entries.append(ClipEntry(folder, dataset, base / f"{linguistic}-{emotion}" / rel))
    if not entries:
        raise X3DError(f"no sequence folders (with posecode.npy) found under {', '.join(map(str, roots))}")
    return entries


def _source_signature(folder: Path) -> dict[str, list[float]]:
    sig = {}
    for name in SOURCE_FILES:
        p = folder / name
        if p.is_file():
            st = p.stat()
            sig[name] = [st.st_size, round(st.st_mtime, 3)]
    return sig


def cache_is_fresh(entry: ClipEntry, need_envelope: bool = False) -> bool:
    meta = entry.cache / "meta.json"
    if need_envelope and not (entry.cache / f"{ENVELOPE}.npy").is_file():
        return False
    if not meta.is_file():
        return False
    try:
        info = json.loads(meta.read_text())
    except json.JSONDecodeError:
        return False
    return info.get("version") == CACHE_VERSION and info.get("source") == _source_signature(entry.folder)


def write_clip_cache(entry: ClipEntry, params: np.ndarray, features: AudioFeatures) -> int:
    """Write one clip's cache (atomically); params and features are cut to their common length."""
    t = min(params.shape[0], features.num_frames)
    if abs(params.shape[0] - features.num_frames) > 2:
        log.warning("%s: %d parameter frames but %d audio frames; using the first %d",
                    entry.folder, params.shape[0], features.num_frames, t)
    with atomic_dir(entry.cache) as tmp:
        np.save(tmp / "params.npy", np.asarray(params[:t], np.float32))
        np.save(tmp / "linguistic.npy", features.linguistic[:t])
        np.save(tmp / "amplitude.npy", normalize_amplitude(features.amplitude[:t]))
        np.save(tmp / "emotion.npy", features.emotion[:t])
        np.save(tmp / f"{ENVELOPE}.npy", features.envelope[: t * SAMPLES_PER_FRAME].reshape(t, SAMPLES_PER_FRAME))
        (tmp / "meta.json").write_text(json.dumps({
            "version": CACHE_VERSION, "frames": t, "linguistic_encoder": features.linguistic_encoder,
            "emotion_encoder": features.emotion_encoder, "linguistic_dim": features.linguistic_dim,
            "emotion_dim": features.emotion_dim, "source": _source_signature(entry.folder),
        }))
    return t


def default_extractor() -> FeatureExtractor:
    """The audio package's ``extract_features`` with each encoder loaded once for all clips."""
    from ..audio import extract_features, load_encoder

    loaded: dict[tuple[str, str], object] = {}

    def extract(audio_path, linguistic: str, emotion: str) -> AudioFeatures:
        for name, role in ((linguistic, "linguistic"), (emotion, "emotion")):
            if (name, role) not in loaded:
                loaded[(name, role)] = load_encoder(name, role)
        return extract_features(audio_path, linguistic=loaded[(linguistic, "linguistic")],
                                emotion=loaded[(emotion, "emotion")])

    return extract


def precompute_features(entries: list[ClipEntry], linguistic: str, emotion: str,
                        extractor: FeatureExtractor | None = None, overwrite: bool = False,
                        show_progress: bool = True, need_envelope: bool = False) -> dict[str, int]:
    """Run the audio encoders once per clip whose cache is missing or stale (or, with
    ``need_envelope``, lacks the sample envelope).

    Returns:
        counts: ``computed``, ``cached`` (already fresh) and ``skipped`` (no audio.wav).
    """
    from tqdm import tqdm

    counts = {"computed": 0, "cached": 0, "skipped": 0}
    todo = [e for e in entries if overwrite or not cache_is_fresh(e, need_envelope)]
    counts["cached"] = len(entries) - len(todo)
    if todo:
        extractor = extractor or default_extractor()
    for entry in tqdm(todo, desc="precompute features", unit="clip", disable=not show_progress):
        seq, audio = read_sequence_dir(entry.folder)
        if audio is None:
            log.warning("%s has no audio.wav; skipped", entry.folder)
            counts["skipped"] += 1
            continue
        features = extractor(audio, linguistic=linguistic, emotion=emotion)
        if features.linguistic_encoder != linguistic or features.emotion_encoder != emotion:
            raise X3DError(f"feature extractor returned {features.linguistic_encoder}/{features.emotion_encoder} "
                           f"features, expected {linguistic}/{emotion}")
        write_clip_cache(entry, seq.params, features)
        counts["computed"] += 1
    return counts


@dataclass
class CachedClip:
    """Memory-mapped cached arrays of one clip (``envelope`` (T, 640) or None in older caches)."""

    entry: ClipEntry
    params: np.ndarray
    linguistic: np.ndarray
    amplitude: np.ndarray
    emotion: np.ndarray
    meta: dict
    envelope: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return self.params.shape[0]


def open_clip(entry: ClipEntry) -> CachedClip:
    meta_path = entry.cache / "meta.json"
    if not meta_path.is_file():
        raise X3DError(f"no precomputed features for {entry.folder}; run `python -m x3dtalker_core train --precompute`")
    try:
        meta = json.loads(meta_path.read_text())
        arrays = {name: np.load(entry.cache / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
        if (entry.cache / f"{ENVELOPE}.npy").is_file():
            arrays[ENVELOPE] = np.load(entry.cache / f"{ENVELOPE}.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidFileError(f"feature cache {entry.cache} is damaged ({exc}); re-run `train --precompute`") from None
    if arrays["params"].ndim != 2 or arrays["params"].shape[1] != PARAM_DIM:
        raise InvalidFileError(f"feature cache {entry.cache}: params must be (T, {PARAM_DIM})")
    return CachedClip(entry, meta=meta, **arrays)


class CropDataset(Dataset):
    """Random fixed-length crops of cached clips; items are addressed by (epoch, index) keys.

    Args:
        clips: opened clips (all at least ``window`` frames).
        window: crop length in frames.
        repeats: per-dataset repeat factor (an item list entry per repeat, authors' oversampling).
        seed: crop seed.
        envelope: items also carry ``envelope`` (window, 640), the raw sample envelope.
        reference_seal: (parameter column, share): in that share of items the reference's value in
            that column (the lip seal, ARKit ``mouthClose``) is drawn uniformly from [0, value].
    """

    def __init__(self, clips: list[CachedClip], window: int, repeats: dict[str, int] | None = None, seed: int = 0,
                 envelope: bool = False, reference_seal: tuple[int, float] | None = None):
        if envelope:
            old = [c.entry.folder for c in clips if c.envelope is None]
            if old:
                raise X3DError(f"feature cache of {old[0]} has no sample envelope (written by an older version); "
                               "re-run `train --precompute`")
        self.clips = clips
        self.window = window
        self.seed = seed
        self.envelope = envelope
        self.reference_seal = reference_seal
        repeats = repeats or {}
        self.items = [i for i, c in enumerate(clips) for _ in range(int(repeats.get(c.entry.dataset, 1)))]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = key
        clip = self.clips[self.items[index]]
        rng = np.random.default_rng([self.seed, epoch + 1_000_000, index])
        start = int(rng.integers(0, clip.num_frames - self.window + 1))
        sl = slice(start, start + self.window)
        reference = np.array(clip.params[:1], np.float32)
        if self.reference_seal is not None:
            column, share = self.reference_seal
            loosen, amount = rng.random(2)  # drawn for every item, so crops do not depend on the share
            if loosen < share:
                reference[0, column] *= amount
        item = {
            "params": torch.from_numpy(np.array(clip.params[sl], np.float32)),
            "reference": torch.from_numpy(reference),
            "linguistic": torch.from_numpy(np.array(clip.linguistic[sl], np.float32)),
            "amplitude": torch.from_numpy(np.array(clip.amplitude[sl], np.float32)),
            "emotion": torch.from_numpy(np.array(clip.emotion[sl], np.float32)),
        }
        if self.envelope:
            item[ENVELOPE] = torch.from_numpy(np.array(clip.envelope[sl], np.float32))
        return item


class EpochBatchSampler:
    """Endless per-process batches of (epoch, index) keys: deterministic, resumable, sharded.

    Each epoch is a permutation seeded by (seed, epoch), tiled when the dataset is smaller than a
    global batch; process ``rank`` of ``world`` takes every ``world``-th batch slot. Iteration
    starts at (epoch, batch) set by :meth:`set_position` and continues through the following
    epochs, so one DataLoader (and its workers) serves the whole run.
    """

    def __init__(self, num_items: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if num_items < 1:
            raise X3DError("the training set is empty")
        self.num_items, self.batch_size, self.seed, self.rank, self.world = num_items, batch_size, seed, rank, world
        self.steps_per_epoch = max(1, num_items // (batch_size * world))
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start_batch: int) -> None:
        self.epoch, self.start = epoch, start_batch

    def epoch_batches(self, epoch: int, start: int = 0) -> Iterator[list[tuple[int, int]]]:
        """The batches of one epoch for this process, from batch ``start``."""
        rng = np.random.default_rng([self.seed, epoch])
        need = self.steps_per_epoch * self.batch_size * self.world
        order = np.concatenate([rng.permutation(self.num_items) for _ in range(math.ceil(need / self.num_items))])
        for j in range(start, self.steps_per_epoch):
            slot = (j * self.world + self.rank) * self.batch_size
            yield [(epoch, int(i)) for i in order[slot:slot + self.batch_size]]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, start = self.epoch, self.start
        while True:
            yield from self.epoch_batches(epoch, start)
            epoch, start = epoch + 1, 0


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def feature_dims(clips: list[CachedClip]) -> tuple[str, int, str, int]:
    """(linguistic encoder, dim, emotion encoder, dim), checked equal over all clips."""
    first = clips[0]
    dims = (first.meta["linguistic_encoder"], first.linguistic.shape[1], first.meta["emotion_encoder"],
            first.emotion.shape[1])
    for c in clips[1:]:
        other = (c.meta["linguistic_encoder"], c.linguistic.shape[1], c.meta["emotion_encoder"], c.emotion.shape[1])
        if other != dims:
            raise X3DError(f"feature cache of {c.entry.folder} has {other}, others have {dims}; re-run --precompute")
    return dims
