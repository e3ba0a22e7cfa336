"""TTS engines with phone timings and the corpus writer (skipped only where a TTS engine is absent)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from x3dtalker_core.data.layout import (
    list_sequence_dirs,
    read_envelope,
    read_sequence_dir,
)
from x3dtalker_core.data.synth import (
    CorpusConfig,
    Delivery,
    engine_available,
    synthesize,
    write_corpus,
)
from x3dtalker_core.data.synth.corpus import make_recipe
from x3dtalker_core.data.synth.text import (
    CMU_DICT,
    WORD_LISTS,
    load_vocabulary,
    make_sentence,
)
from x3dtalker_core.data.synth.visemes import PHONE_TO_VISEME
from x3dtalker_core.errors import X3DError

VOICES = {"flite": "flite:slt", "festival": "festival:slt_hts", "espeak": "espeak:en-us+f3"}
HAVE_WORDS = any(p.is_file() for p in WORD_LISTS) or CMU_DICT.is_file()


def needs(engine: str):
    return pytest.mark.skipif(not engine_available(engine),
                              reason=f"TTS engine {engine} not installed (CI installs it via apt)")


@pytest.mark.parametrize("engine", list(VOICES))
def test_engine_gives_audio_and_phone_timings(engine):
    if not engine_available(engine):
        pytest.skip(f"TTS engine {engine} not installed (CI installs it via apt)")
    utt = synthesize("Bob may fetch a large apple.", VOICES[engine], Delivery(rate=1.1))
    assert utt.audio.dtype == np.float32 and utt.audio.ndim == 1
    assert 0.8 < utt.duration < 5.0 and np.abs(utt.audio).max() > 0.01
    starts = np.array([p.start for p in utt.phones])
    ends = np.array([p.end for p in utt.phones])
    assert np.all(np.diff(starts) >= 0) and np.all(ends >= starts)
    assert ends[-1] == pytest.approx(utt.duration, abs=0.25)
    names = [p.name for p in utt.phones]
    assert {"b", "m", "f"} <= set(names)  # bilabials and labiodental of the text are reported
    assert all(n in PHONE_TO_VISEME for n in names), names


def test_bad_voice_names():
    with pytest.raises(X3DError, match="engine:voice"):
        synthesize("hi", "slt")
    with pytest.raises(X3DError, match="validation voice"):
        CorpusConfig(hours=0.01, voices=("flite:slt",), validation_voices=("flite:awb",))


@pytest.mark.skipif(not HAVE_WORDS, reason="no word list installed (apt-get install wamerican festlex-cmu)")
def test_sentences_are_seeded_and_varied():
    vocab = load_vocabulary()
    a = [make_sentence(np.random.default_rng(3), vocab) for _ in range(2)]
    b = [make_sentence(np.random.default_rng(3), vocab) for _ in range(2)]
    assert a == b
    many = {make_sentence(np.random.default_rng(i), vocab) for i in range(20)}
    assert len(many) == 20


@needs("flite")
@pytest.mark.skipif(not HAVE_WORDS, reason="no word list installed (apt-get install wamerican festlex-cmu)")
def test_corpus_layout_split_and_determinism(tmp_path):
    config = CorpusConfig(hours=4 * 3.5 / 3600, seed=7, voices=("flite:slt", "flite:awb"),
                          validation_voices=("flite:awb",), clip_seconds=(1.0, 1.5))
    assert config.num_clips == 4
    manifest = write_corpus(tmp_path / "c", config, workers=1, progress=False)
    split = json.loads((tmp_path / "c" / "split.json").read_text())
    assert split["train"] == ["flite:slt"] and split["validation"] == ["flite:awb"]
    train = list_sequence_dirs(tmp_path / "c" / "train")
    val = list_sequence_dirs(tmp_path / "c" / "val")
    assert len(train) == 2 and len(val) == 2 and len(manifest["clips"]) == 4
    for folder in train + val:
        seq, wav = read_sequence_dir(folder)
        meta = seq.metadata
        assert (meta["voice"] == "flite:awb") == (folder in val)
        env = read_envelope(folder)
        assert wav is not None and env.shape == (seq.num_frames * 640,)
        assert meta["expression_space"] == "arkit" and np.all(seq.exp[:, 47:] == 0) and np.all(seq.detail == 0)
        assert np.all((seq.exp >= 0) & (seq.exp <= 1)) and seq.exp[:, :47].std(axis=0).max() > 0.02  # lips move
        assert np.ptp(seq.shape, axis=0).max() == 0  # one identity per clip
        jaw = seq.jaw_pose[:, 0]
        assert jaw.max() > 0.08 and jaw[:3].max() < 0.02 and jaw[-3:].max() < 0.02  # closed at both ends
        assert np.all(seq.jaw_pose[:, 1:] == 0)
        assert seq.head_pose.std(axis=0).max() > 1e-3
        assert meta["phones"] and meta["text"]
    # same recipe -> same clip, whatever the output folder; existing clips are kept on a re-run
    again = write_corpus(tmp_path / "d", config, workers=1, progress=False)
    for a, b in zip(manifest["clips"], again["clips"]):
        pa = np.load(tmp_path / "c" / a["path"] / "posecode.npy")
        pb = np.load(tmp_path / "d" / b["path"] / "posecode.npy")
        np.testing.assert_array_equal(pa, pb)
    stamp = (tmp_path / "c" / manifest["clips"][0]["path"] / "posecode.npy").stat().st_mtime_ns
    write_corpus(tmp_path / "c", config, workers=1, progress=False)
    assert (tmp_path / "c" / manifest["clips"][0]["path"] / "posecode.npy").stat().st_mtime_ns == stamp
    assert make_recipe(config, 1).key() != make_recipe(config, 2).key()

    # a new teacher relabels the clips from their phone timings, equal to a fresh render up to the
    # 0.1 ms rounding of the stored phone times, without touching the audio
    import shutil

    from x3dtalker_core.data.synth import corpus as corpus_mod

    shutil.copytree(tmp_path / "c", tmp_path / "r")
    wav_stamp = (tmp_path / "r" / manifest["clips"][0]["path"] / "audio.wav").stat().st_mtime_ns
    teacher, corpus_mod.TEACHER_VERSION = corpus_mod.TEACHER_VERSION, "test-teacher"
    try:
        assert corpus_mod.relabel_corpus(tmp_path / "r", progress=False) == {"relabelled": 4, "current": 0}
        assert corpus_mod.relabel_corpus(tmp_path / "r", progress=False) == {"relabelled": 0, "current": 4}
        for clip in manifest["clips"]:
            old, new = read_sequence_dir(tmp_path / "c" / clip["path"])[0], read_sequence_dir(tmp_path / "r" / clip["path"])[0]
            np.testing.assert_allclose(new.params, old.params, atol=5e-3)
            assert new.metadata["recipe_key"] == make_recipe(config, new.metadata["clip_index"]).key()
    finally:
        corpus_mod.TEACHER_VERSION = teacher
    assert (tmp_path / "r" / manifest["clips"][0]["path"] / "audio.wav").stat().st_mtime_ns == wav_stamp
