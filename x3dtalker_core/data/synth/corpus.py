"""The synthetic talking corpus: TTS speech + teacher jaw/head motion in the 3DTalkingDataset layout.

Layout written by :func:`write_corpus` (``OUT`` = the ``--out`` folder)::

    OUT/train/<voice>/<clip>/   audio.wav shapecode.npy expcode.npy posecode.npy detailcode.npy
    OUT/val/<voice>/<clip>/     envelope.npy metadata.json       (SPEC §1 sequence folders)
    OUT/split.json              which voices are in which split (validation voices are held out whole)
    OUT/manifest.json           the recipe, every clip (voice, split, frames, seconds), phone coverage

Train with ``train --data OUT/train`` and evaluate with ``eval --data OUT/val``.

Every clip is a pure function of (corpus seed, clip index): voice ``voices[index % len(voices)]``,
text, speaking style, identity and augmentation all come from one generator seeded with both, so
the corpus is identical whatever the number of workers, and an interrupted run resumes by skipping
the clips already written with the same recipe.

What the parameters contain, and why:

* ``shape``: a random identity per clip, constant over the clip (N(0, 0.6^2), clipped to +-2).
* ``pose``: head rotation (prosody teacher, :mod:`.head`) and jaw opening about x (viseme teacher,
  :mod:`.visemes`); the jaw's y/z rotations are 0.
* ``exp``: ARKit weights (:mod:`.face`: lip shapes, mouth closure, blinks, brows) in the first 47
  columns, the development head's expression layout; ``metadata["expression_space"] = "arkit"``.
  On a real FLAME model (PCA expressions) the same lips come from
  :func:`~...flame.arkit.convert_expression`; jaw and head act through FLAME's skeleton, which every
  FLAME model shares.
* ``detail``: zero.

:func:`relabel_corpus` recomputes the jaw and face of clips already written (from the phone timings
in their ``metadata.json``), so a teacher change does not need the speech synthesised again.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ... import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, __version__
from ...errors import X3DError
from ...io_utils import atomic_path
from ...flame.arkit import ARKIT_EXPRESSION_NAMES, ARKIT_SPACE
from ...params import EXP, HEAD_POSE, JAW_POSE, N_SHAPE, PARAM_DIM, SHAPE, FlameSequence
from ..layout import read_sequence_dir, write_sequence_dir
from .augment import Augmentation, apply_augmentation, change_speed, sample_augmentation
from .face import face_track, sample_face_style
from .head import HeadStyle, head_track
from .text import load_vocabulary, make_sentence
from .tts import (
    DEFAULT_VALIDATION_VOICES,
    DEFAULT_VOICES,
    SILENCE,
    Delivery,
    Phone,
    Utterance,
    check_voices,
    parse_voice,
    synthesize,
)
from .visemes import jaw_track

SPLIT_DIRS = {"train": "train", "validation": "val"}
TEACHER_VERSION = "face-v1"  # part of every clip's key: a teacher change rewrites (or relabels) the motion
FACE_STREAM = 0xFACE  # the face's random stream, separate from the head's: relabelling reproduces it


@dataclass(frozen=True)
class SpeakingStyle:
    """An emotion-like speaking style: delivery, loudness, articulation and head-motion energy."""

    name: str
    rate: float
    pitch: float
    pitch_range: float
    loudness_db: float
    articulation: float
    head: HeadStyle


STYLES: dict[str, SpeakingStyle] = {s.name: s for s in (
    SpeakingStyle("neutral", 1.0, 0.0, 1.0, 0.0, 1.0, HeadStyle()),
    SpeakingStyle("calm", 0.9, -1.0, 0.7, -4.0, 0.85, HeadStyle(nod=0.03, drift=0.03, sway=0.008, min_gap=0.6)),
    SpeakingStyle("happy", 1.08, 2.0, 1.4, 2.0, 1.15, HeadStyle(nod=0.06, drift=0.045, sway=0.016, min_gap=0.4)),
    SpeakingStyle("sad", 0.85, -2.0, 0.6, -6.0, 0.75, HeadStyle(nod=0.025, drift=0.025, sway=0.006, min_gap=0.7)),
    SpeakingStyle("angry", 1.1, 1.0, 1.2, 4.0, 1.25, HeadStyle(nod=0.065, drift=0.04, sway=0.02, min_gap=0.4)),
)}


@dataclass(frozen=True)
class CorpusConfig:
    """What :func:`write_corpus` makes.

    Attributes:
        hours: target amount of speech (train + validation).
        seed: corpus seed.
        voices: ``engine:voice`` names, used round-robin.
        validation_voices: voices held out whole for validation (must be in ``voices``).
        clip_seconds: (min, max) clip duration; sentences are appended until a drawn target is met.
        augment: augmentation strength (0 = clean audio, 1 = default).
        identity_std: std of the random shape coefficients.
    """

    hours: float
    seed: int = 0
    voices: tuple[str, ...] = DEFAULT_VOICES
    validation_voices: tuple[str, ...] = DEFAULT_VALIDATION_VOICES
    clip_seconds: tuple[float, float] = (10.5, 16.0)
    augment: float = 1.0
    identity_std: float = 0.6

    def __post_init__(self) -> None:
        if not (self.hours > 0):
            raise X3DError(f"--hours must be positive, got {self.hours}")
        if not self.voices:
            raise X3DError("no voices given")
        for v in self.voices:
            parse_voice(v)
        stray = [v for v in self.validation_voices if v not in self.voices]
        if stray:
            raise X3DError(f"validation voice(s) {stray} are not among the corpus voices {list(self.voices)}")
        if len(set(self.validation_voices)) >= len(set(self.voices)):
            raise X3DError("every voice is held out for validation; keep at least one training voice")
        lo, hi = self.clip_seconds
        if not (0 < lo <= hi):
            raise X3DError(f"clip seconds must satisfy 0 < min <= max, got {self.clip_seconds}")

    @property
    def num_clips(self) -> int:
        # A clip overshoots its drawn target by about half a sentence (~2.5 s).
        mean = (self.clip_seconds[0] + self.clip_seconds[1]) / 2 + 2.5
        return max(1, math.ceil(self.hours * 3600 / mean))

    def split_of(self, voice: str) -> str:
        return "validation" if voice in self.validation_voices else "train"


@dataclass(frozen=True)
class ClipRecipe:
    """Everything random about one clip, drawn from (corpus seed, index)."""

    index: int
    voice: str
    split: str
    style: str
    delivery: Delivery
    loudness_db: float
    articulation: float
    head: HeadStyle
    seconds: float  # synthesis stops once the clip is at least this long
    sentences: tuple[str, ...]
    gaps: tuple[float, ...]  # silence before each sentence, then after the last (s)
    identity: tuple[float, ...]
    base_head: tuple[float, float, float]
    augmentation: Augmentation
    motion_seed: int

    def key(self) -> str:
        """A hash of the recipe and code version: a clip on disk with the same key is up to date."""
        blob = json.dumps({"recipe": asdict(self), "version": __version__, "teacher": TEACHER_VERSION},
                          sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass
class ClipResult:
    """One written clip, as listed in the manifest."""

    path: str
    voice: str
    split: str
    frames: int
    seconds: float
    style: str
    phones: dict[str, int] = field(default_factory=dict)


def clip_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(index), 0x5E7])


def make_recipe(config: CorpusConfig, index: int) -> ClipRecipe:
    """Draw clip ``index``'s text, style, identity and augmentation (no synthesis yet)."""
    rng = clip_rng(config.seed, index)
    voice = config.voices[index % len(config.voices)]
    style = STYLES[str(rng.choice(list(STYLES)))]
    jitter = lambda lo, hi: float(rng.uniform(lo, hi))
    delivery = Delivery(rate=style.rate * jitter(0.92, 1.08), pitch=style.pitch + jitter(-1.0, 1.0),
                        pitch_range=style.pitch_range * jitter(0.85, 1.15))
    head = replace(style.head, nod=style.head.nod * jitter(0.8, 1.25), drift=style.head.drift * jitter(0.7, 1.3),
                   sway=style.head.sway * jitter(0.7, 1.3))
    # Enough sentences for the longest target; synthesis stops once the drawn target is reached.
    target = jitter(*config.clip_seconds)
    vocab = load_vocabulary()
    sentences = tuple(make_sentence(rng, vocab, 3, 10) for _ in range(max(2, math.ceil(target / 2.0))))
    gaps = tuple([jitter(0.2, 0.8)] + [jitter(0.25, 1.2) for _ in range(len(sentences) - 1)] + [jitter(0.4, 1.0)])
    identity = np.clip(rng.normal(0.0, config.identity_std, N_SHAPE), -2.0, 2.0)
    base_head = (jitter(-0.05, 0.05), jitter(-0.1, 0.1), jitter(-0.03, 0.03))
    return ClipRecipe(
        index=index, voice=voice, split=config.split_of(voice), style=style.name, delivery=delivery,
        loudness_db=style.loudness_db + jitter(-2.0, 2.0), articulation=style.articulation * jitter(0.9, 1.1),
        head=head, seconds=target, sentences=sentences, gaps=gaps, identity=tuple(float(v) for v in identity),
        base_head=base_head, augmentation=sample_augmentation(rng, config.augment),
        motion_seed=int(rng.integers(2**31)),
    )


def speak_clip(recipe: ClipRecipe, synth: Callable[..., Utterance] = synthesize,
               ) -> tuple[np.ndarray, tuple[Phone, ...], list[str]]:
    """Synthesise the recipe's sentences with silences between them until ``recipe.seconds`` is reached.

    Returns:
        ((N,) clean float32 audio, phones with clip times, the sentences actually spoken).
    """
    pieces: list[np.ndarray] = []
    phones: list[Phone] = []
    spoken: list[str] = []
    t = 0.0

    def add_silence(seconds: float) -> None:
        nonlocal t
        n = round(seconds * SAMPLE_RATE)
        pieces.append(np.zeros(n, np.float32))
        phones.append(Phone(SILENCE, t, t + n / SAMPLE_RATE))
        t += n / SAMPLE_RATE

    for sentence, gap in zip(recipe.sentences, recipe.gaps):
        add_silence(gap)
        utt = synth(sentence, recipe.voice, recipe.delivery)
        pieces.append(utt.audio)
        phones.extend(Phone(p.name, t + p.start, t + min(p.end, utt.duration)) for p in utt.phones
                      if p.start < utt.duration)
        t += utt.duration
        spoken.append(sentence)
        if t >= recipe.seconds - recipe.gaps[-1]:
            break
    add_silence(recipe.gaps[-1])
    return np.concatenate(pieces), tuple(phones), spoken


def render_clip(recipe: ClipRecipe, synth: Callable[..., Utterance] = synthesize,
                ) -> tuple[FlameSequence, np.ndarray, dict]:
    """Speech, teacher motion and augmentation of one clip.

    Returns:
        (parameters (T, 284) with metadata, (T * 640,) augmented 16 kHz audio, facts for the manifest).
    """
    audio, phones, spoken = speak_clip(recipe, synth)
    audio = audio * np.float32(10 ** (recipe.loudness_db / 20))
    aug = recipe.augmentation
    audio, phones = change_speed(audio, phones, aug.speed)
    num_frames = math.ceil(audio.size / SAMPLES_PER_FRAME)
    audio = np.pad(audio, (0, num_frames * SAMPLES_PER_FRAME - audio.size))

    rng = np.random.default_rng(recipe.motion_seed)
    params = np.zeros((num_frames, PARAM_DIM), np.float32)
    params[:, SHAPE] = np.asarray(recipe.identity, np.float32)
    head, nods = head_track(phones, audio, num_frames, rng, recipe.head)
    params[:, HEAD_POSE] = head + np.asarray(recipe.base_head, np.float32)
    face_facts = teach_face(params, phones, nods, recipe)
    audio = apply_augmentation(audio, aug, rng)

    coverage = Counter(p.name for p in phones if p.name != SILENCE)
    metadata = {
        "source": "synthetic", "generator": f"x3dtalker_core {__version__} synth", "recipe_key": recipe.key(),
        "clip_index": recipe.index, "voice": recipe.voice, "split": recipe.split, "style": recipe.style,
        "delivery": asdict(recipe.delivery), "loudness_db": round(recipe.loudness_db, 3),
        "articulation": round(recipe.articulation, 4), "head_style": asdict(recipe.head),
        "augmentation": aug.to_dict(), "text": spoken,
        "phones": [[p.name, round(p.start, 4), round(p.end, 4)] for p in phones],
        "nod_onsets": [round(x, 3) for x in nods],
        **face_facts,
    }
    seq = FlameSequence(params, fps=float(FPS), metadata=metadata)
    return seq, audio, {"phones": dict(coverage)}


def teach_face(params: np.ndarray, phones, stress_onsets, recipe: ClipRecipe) -> dict:
    """Write the jaw and ARKit face teacher into ``params`` (T, 284) in place; returns metadata facts."""
    num_frames = params.shape[0]
    jaw = jaw_track(phones, num_frames, recipe.articulation)
    rng = np.random.default_rng([recipe.motion_seed, FACE_STREAM])
    style = sample_face_style(rng, recipe.articulation)
    expression, events = face_track(phones, jaw, num_frames, list(stress_onsets), rng, style)
    params[:, JAW_POSE.start] = jaw
    params[:, EXP] = 0.0
    params[:, EXP.start : EXP.start + len(ARKIT_EXPRESSION_NAMES)] = expression
    return {"expression_space": ARKIT_SPACE, "teacher": TEACHER_VERSION, "face_style": asdict(style), **events,
            "expression": "ARKit weights (lips, mouth closure, blinks, brows) in the development head's layout"}


def relabel_clip(folder: str | Path, recipe: ClipRecipe) -> bool:
    """Recompute a written clip's jaw and face from its metadata's phones; False if already current."""
    folder = Path(folder)
    meta_path = folder / "metadata.json"
    meta = json.loads(meta_path.read_text())
    if meta.get("recipe_key") == recipe.key():
        return False
    if meta.get("clip_index") != recipe.index or meta.get("voice") != recipe.voice:
        raise X3DError(f"{folder} holds clip {meta.get('clip_index')} ({meta.get('voice')}), not clip "
                       f"{recipe.index} ({recipe.voice}) of this corpus recipe")
    seq = read_sequence_dir(folder)[0]
    params = np.array(seq.params, np.float32)
    phones = tuple(Phone(str(n), float(a), float(b)) for n, a, b in meta["phones"])
    meta.update(teach_face(params, phones, meta.get("nod_onsets", []), recipe), recipe_key=recipe.key())
    meta.pop("fps", None)
    new = FlameSequence(params, fps=seq.fps, metadata=meta)
    # audio and envelope stay; the motion files, then the metadata (which marks the clip current), are replaced
    for name, arr in (("expcode.npy", new.exp), ("posecode.npy", new.pose)):
        with atomic_path(folder / name) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
    with atomic_path(meta_path) as tmp:
        tmp.write_text(json.dumps({**new.metadata, "fps": new.fps}, indent=1))
    return True


def relabel_corpus(out: str | Path, progress: bool = True) -> dict[str, int]:
    """Relabel every clip of the corpus in ``out`` (its ``manifest.json`` gives the recipe)."""
    from tqdm import tqdm

    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text())
    cfg = {k: v for k, v in manifest["config"].items() if k != "num_clips"}
    config = CorpusConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    counts = {"relabelled": 0, "current": 0}
    for i in tqdm(range(config.num_clips), desc="relabel", unit="clip", disable=not progress):
        recipe = make_recipe(config, i)
        changed = relabel_clip(clip_dir(out, recipe), recipe)
        counts["relabelled" if changed else "current"] += 1
    return counts


def _envelope(audio: np.ndarray) -> np.ndarray:
    try:
        from ...audio import amplitude_envelope
    except ImportError:  # the audio package is optional for the corpus writer
        from scipy.signal import hilbert

        return np.abs(hilbert(audio.astype(np.float64))).astype(np.float32)
    return amplitude_envelope(audio)


def voice_dirname(voice: str) -> str:
    """Folder name of a voice: ``flite:slt`` -> ``flite-slt``, ``espeak:en-us+f3`` -> ``espeak-en-us_f3``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", voice.replace(":", "-", 1))


def clip_dir(out: Path, recipe: ClipRecipe) -> Path:
    return out / SPLIT_DIRS[recipe.split] / voice_dirname(recipe.voice) / f"clip{recipe.index:05d}"


def _existing(folder: Path, key: str) -> dict | None:
    meta = folder / "metadata.json"
    if not (meta.is_file() and (folder / "posecode.npy").is_file() and (folder / "audio.wav").is_file()):
        return None
    try:
        data = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if data.get("recipe_key") == key else None


def write_clip(out: str | Path, config: CorpusConfig, index: int) -> ClipResult:
    """Make and write clip ``index`` (skipped when an up-to-date copy exists). Runs in worker processes."""
    out = Path(out)
    recipe = make_recipe(config, index)
    folder = clip_dir(out, recipe)
    done = _existing(folder, recipe.key())
    if done is not None:
        frames = len(np.load(folder / "posecode.npy", mmap_mode="r"))
        phones = Counter(p[0] for p in done.get("phones", []) if p[0] != SILENCE)
        return ClipResult(str(folder.relative_to(out)), recipe.voice, recipe.split, frames, frames / FPS,
                          recipe.style, dict(phones))
    seq, audio, facts = render_clip(recipe)
    write_sequence_dir(folder, seq, audio=audio, envelope=_envelope(audio))
    return ClipResult(str(folder.relative_to(out)), recipe.voice, recipe.split, seq.num_frames,
                      seq.num_frames / FPS, recipe.style, facts["phones"])


def write_corpus(out: str | Path, config: CorpusConfig, workers: int = 1, progress: bool = True) -> dict:
    """Write the whole corpus under ``out`` and return its manifest (also written to ``manifest.json``)."""
    check_voices(config.voices)
    load_vocabulary()  # fail early (missing word list) before starting workers
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    indices = list(range(config.num_clips))
    results: list[ClipResult] = []
    from tqdm import tqdm

    bar = tqdm(total=len(indices), desc="synth clips", unit="clip", disable=not progress)
    if workers <= 1:
        for i in indices:
            results.append(write_clip(out, config, i))
            bar.update(1)
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            for res in pool.map(write_clip, [out] * len(indices), [config] * len(indices), indices):
                results.append(res)
                bar.update(1)
    bar.close()

    split = {
        "train": sorted(v for v in config.voices if config.split_of(v) == "train"),
        "validation": sorted(config.validation_voices),
        "dirs": SPLIT_DIRS,
        "rule": "validation voices are held out whole: none of their clips is in train",
    }
    totals = {s: round(sum(r.seconds for r in results if r.split == s) / 3600, 4) for s in ("train", "validation")}
    coverage: Counter = Counter()
    for r in results:
        coverage.update(r.phones)
    manifest = {
        "format": "3DTalkingDataset sequence folders (SPEC §1)",
        "config": {**asdict(config), "num_clips": config.num_clips},
        "version": __version__,
        "hours": totals,
        "split": split,
        "phone_counts": dict(sorted(coverage.items())),
        "clips": [{k: v for k, v in asdict(r).items() if k != "phones"} for r in results],
    }
    for name, obj in (("split.json", split), ("manifest.json", manifest)):
        with atomic_path(out / name) as tmp:
            tmp.write_text(json.dumps(obj, indent=1))
    return manifest
