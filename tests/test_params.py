"""FlameParams / FlameSequence: layout, validation and exact round trips (npz and dataset folder)."""

from __future__ import annotations

import numpy as np
import pytest

from x3dtalker_core.data import list_sequence_dirs, read_sequence_dir, write_sequence_dir
from x3dtalker_core.errors import InvalidFileError, X3DError
from x3dtalker_core.params import PARAM_DIM, FlameParams, FlameSequence


def random_sequence(t: int = 37, cam: bool = True, seed: int = 0) -> FlameSequence:
    rng = np.random.default_rng(seed)
    return FlameSequence(
        rng.normal(size=(t, PARAM_DIM)).astype(np.float32),
        cam=rng.normal(size=(t, 3)).astype(np.float32) if cam else None,
        metadata={"source": "test", "seed": seed},
    )


def test_vector_layout():
    v = np.arange(PARAM_DIM, dtype=np.float32)
    p = FlameParams.from_vector(v)
    assert p.shape[0] == 0 and p.exp[0] == 100 and p.pose[0] == 150 and p.detail[0] == 156
    assert p.head_pose.tolist() == [150, 151, 152] and p.jaw_pose.tolist() == [153, 154, 155]
    assert np.array_equal(p.to_vector(), v)


def test_sequence_views():
    seq = random_sequence()
    assert seq.shape.shape == (37, 100) and seq.exp.shape == (37, 50) and seq.detail.shape == (37, 128)
    assert np.array_equal(seq.jaw_pose, seq.params[:, 153:156])
    assert np.array_equal(seq.head_pose, seq.params[:, 150:153])
    assert seq.duration == pytest.approx(37 / 25)
    frame = seq.frame(3)
    assert np.array_equal(frame.to_vector(), seq.params[3]) and np.array_equal(frame.cam, seq.cam[3])
    assert len(seq.slice(5, 10)) == 5


@pytest.mark.parametrize("cam", [True, False])
def test_npz_round_trip_is_exact(tmp_path, cam):
    seq = random_sequence(cam=cam)
    seq.save(tmp_path / "p.npz")
    back = FlameSequence.load(tmp_path / "p.npz")
    assert np.array_equal(back.params, seq.params) and back.params.dtype == np.float32
    assert (back.cam is None) == (not cam) and (not cam or np.array_equal(back.cam, seq.cam))
    assert back.fps == seq.fps and back.metadata == seq.metadata


@pytest.mark.parametrize("cam", [True, False])
def test_dataset_folder_round_trip_is_exact(tmp_path, cam):
    seq = random_sequence(cam=cam)
    audio = np.random.default_rng(1).uniform(-0.5, 0.5, 37 * 640).astype(np.float32)
    env = np.abs(audio)
    folder = write_sequence_dir(tmp_path / "clip", seq, audio=audio, envelope=env, audio_subtype="FLOAT")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["shapecode.npy", "expcode.npy", "posecode.npy", "detailcode.npy", "envelope.npy", "audio.wav",
         "metadata.json"] + (["cam.npy"] if cam else [])
    )
    assert np.load(folder / "posecode.npy").shape == (37, 6)
    back, audio_path = read_sequence_dir(folder)
    assert np.array_equal(back.params, seq.params)
    assert (back.cam is None) == (not cam) and (not cam or np.array_equal(back.cam, seq.cam))
    assert back.metadata == seq.metadata and back.fps == seq.fps
    import soundfile as sf

    wav, sr = sf.read(audio_path, dtype="float32")
    assert sr == 16000 and np.array_equal(wav, audio)
    # npz -> folder -> npz stays exact
    back.save(tmp_path / "again.npz")
    assert np.array_equal(FlameSequence.load(tmp_path / "again.npz").params, seq.params)
    assert list_sequence_dirs(tmp_path) == [folder]


def test_folder_errors_name_the_problem(tmp_path):
    seq = random_sequence()
    folder = write_sequence_dir(tmp_path / "clip", seq)
    np.save(folder / "expcode.npy", np.zeros((36, 50), np.float32))
    with pytest.raises(InvalidFileError, match="disagree on the number of frames"):
        read_sequence_dir(folder)
    np.save(folder / "expcode.npy", np.zeros((37, 49), np.float32))
    with pytest.raises(InvalidFileError, match=r"expcode.npy must have shape \(T, 50\)"):
        read_sequence_dir(folder)
    (folder / "posecode.npy").unlink()
    with pytest.raises(InvalidFileError, match="missing posecode.npy"):
        read_sequence_dir(folder)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    import soundfile

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(soundfile, "write", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_sequence_dir(tmp_path / "clip", random_sequence(), audio=np.zeros(640, np.float32))
    assert list(tmp_path.iterdir()) == []


def test_validation_messages():
    with pytest.raises(X3DError, match=r"shape \(T, 284\)"):
        FlameSequence(np.zeros((3, 283)))
    with pytest.raises(X3DError, match="NaN"):
        FlameSequence(np.full((3, 284), np.nan))
    with pytest.raises(X3DError, match=r"exp must have shape \(50,\)"):
        FlameParams(np.zeros(100), np.zeros(49), np.zeros(6), np.zeros(128))
    with pytest.raises(X3DError, match="out of range"):
        random_sequence().frame(99)
