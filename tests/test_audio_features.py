"""extract_features end to end: frame grid, inputs, npz round trip, cache, progress, cancel, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from x3dtalker_core.audio import AudioFeatures, EncodingCancelled, extract_features
from x3dtalker_core.audio.encoders import MelEncoder
from x3dtalker_core.cli import main as cli_main
from x3dtalker_core.errors import InvalidFileError, X3DError

SR = 16000


def voice(seconds, sr=SR):
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * 160 * t) * (1 + 0.8 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.04, 0.07, 2.5, 12.34])
def test_every_feature_has_round_duration_times_25_rows(seconds):
    feats = extract_features(voice(seconds))
    t = int(np.floor(seconds * 25 + 0.5))
    assert feats.num_frames == t
    assert feats.linguistic.shape == (t, 320) and feats.emotion.shape == (t, 10)
    assert feats.amplitude.shape == (t, 1) and feats.envelope.shape == (t * 640,)
    assert (feats.linguistic_encoder, feats.emotion_encoder) == ("mel", "prosody")
    for arr in (feats.linguistic, feats.emotion, feats.amplitude, feats.envelope):
        assert arr.dtype == np.float32 and np.isfinite(arr).all()
    assert feats.metadata["encoders"]["linguistic"]["paper"] is False
    assert feats.metadata["duration_s"] == pytest.approx(seconds, abs=1 / SR)


def test_file_dict_and_array_give_the_same_features(tmp_path):
    x = voice(1.5, sr=48000)
    sf.write(tmp_path / "v.wav", np.stack([x, x], 1), 48000, subtype="FLOAT")
    from_file = extract_features(tmp_path / "v.wav")
    from_dict = extract_features({"waveform": torch.from_numpy(np.stack([x, x]))[None], "sample_rate": 48000})
    from_array = extract_features(x, sample_rate=48000)
    for other in (from_dict, from_array):
        np.testing.assert_allclose(other.linguistic, from_file.linguistic, atol=1e-4)
        np.testing.assert_allclose(other.emotion, from_file.emotion, atol=1e-4)
        np.testing.assert_allclose(other.envelope, from_file.envelope, atol=1e-5)
    assert from_file.metadata["source"] == str(tmp_path / "v.wav")


def test_npz_round_trip_and_slice(tmp_path):
    feats = extract_features(voice(1.0))
    path = feats.save(tmp_path / "sub" / "f.npz")
    back = AudioFeatures.load(path)
    for name in ("linguistic", "amplitude", "emotion", "envelope"):
        np.testing.assert_array_equal(getattr(back, name), getattr(feats, name))
    assert back.metadata == feats.metadata and back.encoder_spec() == feats.encoder_spec()
    part = back.slice(5, 15)
    assert part.num_frames == 10 and part.envelope.shape == (6400,) and part.metadata == back.metadata


def test_loading_a_foreign_npz_names_the_file(tmp_path):
    np.savez(tmp_path / "other.npz", params=np.zeros((3, 284)))
    with pytest.raises(InvalidFileError, match="other.npz is not an audio feature file"):
        AudioFeatures.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidFileError, match="junk.npz"):
        AudioFeatures.load(tmp_path / "junk.npz")


def test_checkpoint_encoder_mismatch_is_a_clear_error():
    feats = extract_features(voice(0.5))
    feats.check_encoders({"linguistic": {"name": "mel", "dim": 320}, "emotion": {"name": "prosody", "dim": 10}})
    with pytest.raises(X3DError, match="trained with linguistic encoder wavlm \\(768-d\\).*--linguistic wavlm"):
        feats.check_encoders({"linguistic": {"name": "wavlm", "dim": 768}, "emotion": {"name": "prosody", "dim": 10}})


class CountingMel(MelEncoder):
    calls = 0

    def _encode_frames(self, *args):
        CountingMel.calls += 1
        return super()._encode_frames(*args)


def test_cache_reuses_features_for_the_same_audio_and_encoders(tmp_path):
    x = voice(1.2)
    enc = CountingMel()
    first = extract_features(x, linguistic=enc, cache_dir=tmp_path)
    second = extract_features(x, linguistic=enc, cache_dir=tmp_path)
    assert CountingMel.calls == 1
    np.testing.assert_array_equal(first.linguistic, second.linguistic)
    assert len(list(tmp_path.rglob("*.npz"))) == 1
    extract_features(x * 0.5, linguistic=enc, cache_dir=tmp_path)  # different audio: new entry
    extract_features(x, linguistic=CountingMel(n_mels=40), cache_dir=tmp_path)  # different encoder
    assert CountingMel.calls == 3 and len(list(tmp_path.rglob("*.npz"))) == 3


def test_progress_reaches_total_and_cancel_stops():
    seen = []
    extract_features(voice(30.0), progress=lambda d, n: seen.append((d, n)))
    totals = {n for _, n in seen}
    assert len(totals) == 1 and seen[-1][0] == seen[-1][1] == totals.pop() >= 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    asked = []

    def cancel():
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(EncodingCancelled):
        extract_features(voice(30.0), cancel=cancel)


def test_cli_encode_then_info(tmp_path, capsys):
    sf.write(tmp_path / "v.flac", voice(2.0, sr=22050), 22050)
    out = tmp_path / "f.npz"
    rc = cli_main(["audio", "encode", "--audio", str(tmp_path / "v.flac"), "--out", str(out), "--no-progress"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 50 and summary["linguistic"] == {"encoder": "ppg", "dim": 191}
    assert cli_main(["audio", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["emotion"] == {"encoder": "prosody", "dim": 10} and info["metadata"]["encoders"]
    assert cli_main(["audio", "encoders"]) == 0
    assert "weaker" in capsys.readouterr().out


def test_cli_missing_encoder_folder_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("X3DTALKER_MODELS", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sf.write(tmp_path / "v.wav", voice(0.5), SR)
    rc = cli_main(["audio", "encode", "--audio", str(tmp_path / "v.wav"), "--out", str(tmp_path / "f.npz"),
                   "--linguistic", "wavlm", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "wavlm-base-plus" in err and "X3DTALKER_MODELS" in err
