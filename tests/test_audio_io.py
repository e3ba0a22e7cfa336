"""Audio loading: formats, rates, channels, sample types, the 25 fps grid, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from x3dtalker_core.audio import fit_to_frames, load_audio, num_frames_for
from x3dtalker_core.cli import main as cli_main
from x3dtalker_core.errors import InvalidFileError, X3DError


def tone(seconds: float, sr: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.02, 0.04, 0.05, 0.06, 1.0, 3.3, 10.0, 61.23, 600.0])
def test_frame_count_is_rounded_duration(seconds):
    x = np.zeros(int(round(seconds * 16000)), np.float32) + 0.01
    y = load_audio(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    expected = int(np.floor(seconds * 25 + 0.5))
    assert num_frames_for(y.size, 16000) == expected
    assert fit_to_frames(y).shape == (expected * 640,)


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_files_at_any_rate_and_type_resample_to_16k(tmp_path, sr, subtype):
    seconds = 1.37
    x = tone(seconds, sr, freq=300.0)
    stereo = np.stack([x, 0.5 * x], axis=1)
    path = tmp_path / f"a_{sr}_{subtype}.wav"
    sf.write(path, stereo, sr, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32
    assert y.size == round(stereo.shape[0] * 16000 / sr)
    assert num_frames_for(y.size, 16000) == round(seconds * 25)
    # mono downmix of (x, x/2) is 0.75 x; the 300 Hz tone survives resampling with its amplitude
    mid = y[2000:-2000]
    assert abs(np.abs(mid).max() - 0.375) < 0.01
    spec = np.abs(np.fft.rfft(mid * np.hanning(mid.size)))
    assert abs(np.fft.rfftfreq(mid.size, 1 / 16000)[spec.argmax()] - 300.0) < 3.0


def test_flac_ogg_and_pyav_formats(tmp_path):
    x = tone(0.8, 22050, 250.0)
    for ext in ("flac", "ogg"):
        sf.write(tmp_path / f"a.{ext}", x, 22050)
        assert num_frames_for(load_audio(tmp_path / f"a.{ext}").size, 16000) == 20
    av = pytest.importorskip("av")
    path = tmp_path / "a.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=22050)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(x[None], format="fltp", layout="mono")
        frame.sample_rate = 22050
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    y = load_audio(path)
    # AAC adds priming/padding samples; the duration stays within a couple of frames
    assert abs(y.size / 16000 - 0.8) < 0.1
    assert np.isfinite(y).all() and np.abs(y).max() > 0.1


def test_comfy_audio_dict_and_integer_arrays():
    x = tone(2.0, 44100)
    audio = {"waveform": torch.from_numpy(np.stack([x, x]))[None], "sample_rate": 44100}
    y = load_audio(audio)
    assert y.size == 32000 and abs(np.abs(y).max() - 0.5) < 0.01
    pcm = (tone(1.0, 16000) * 32767).astype(np.int16)
    z = load_audio(pcm)
    assert z.dtype == np.float32 and abs(np.abs(z).max() - 0.5) < 1e-3
    # (N, C) arrays (soundfile layout) are recognised as well as (C, N)
    both = load_audio(np.stack([tone(1.0, 16000)] * 2, axis=1))
    assert both.shape == (16000,)


def test_comfy_batch_of_several_clips_is_refused():
    audio = {"waveform": torch.zeros(2, 1, 16000), "sample_rate": 16000}
    with pytest.raises(X3DError, match="batch of 2"):
        load_audio(audio)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "no audio samples"),
        (lambda p: sf.write(p, np.zeros(100, np.float32), 16000), "shorter than one"),
        (lambda p: p.write_text("this is not audio at all\n" * 20), "not a readable audio file"),
        (lambda p: sf.write(p, np.array([0.1, np.nan, np.inf] * 400, np.float32), 16000, subtype="FLOAT"), "NaN"),
    ],
    ids=["zero-bytes", "no-samples", "under-one-frame", "not-audio", "nan-inf"],
)
def test_bad_files_raise_one_line_errors_naming_the_file(tmp_path, make, match):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(InvalidFileError, match=match) as info:
        load_audio(path)
    msg = str(info.value)
    assert str(path) in msg and "\n" not in msg


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(X3DError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(X3DError, match="is a folder"):
        load_audio(tmp_path)


def test_unknown_extension_goes_through_pyav_and_fails_cleanly(tmp_path):
    pytest.importorskip("av")
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(InvalidFileError, match="notes.txt"):
        load_audio(path)


def test_nan_in_arrays_and_dicts_is_named():
    with pytest.raises(InvalidFileError, match="audio array has 1 NaN"):
        load_audio(np.array([0.0] * 1000 + [np.nan], np.float32))
    with pytest.raises(InvalidFileError, match="AUDIO input"):
        load_audio({"waveform": torch.full((1, 1, 1000), float("inf")), "sample_rate": 16000})


def test_cli_reports_bad_audio_without_traceback(tmp_path, capsys):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    rc = cli_main(["audio", "encode", "--audio", str(bad), "--out", str(tmp_path / "f.npz"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "Traceback" not in err and str(bad) in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "f.npz").exists()
