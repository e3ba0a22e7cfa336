"""Curation pieces: SNR estimate, stitch planning, sharding, manifest resume, video normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from x3dtalker_core.data.curate import (
    Manifest,
    Shard,
    estimate_snr_db,
    pack_group,
    parse_shard,
    plan_units,
)
from x3dtalker_core.data.curate.units import group_key
from x3dtalker_core.data.video import crop_box, read_frames
from x3dtalker_core.render.video import probe_video
from x3dtalker_core.errors import X3DError
from x3dtalker_core.render.video import write_mp4


def syllables(seconds=3.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    gate = (np.sin(2 * np.pi * 2.5 * t + rng.uniform(0, 6)) > 0.2).astype(np.float32)
    return (0.4 * gate * np.sin(2 * np.pi * 180 * t)).astype(np.float32)


def test_snr_separates_clean_noisy_and_silent():
    clean = syllables()
    rng = np.random.default_rng(1)
    power = (clean**2).mean()
    assert estimate_snr_db(clean) > 40
    at = {db: estimate_snr_db(clean + rng.normal(0, np.sqrt(power / 10 ** (db / 10)), clean.size)) for db in (0, 20)}
    assert at[0] < 8.0 < at[20]
    assert estimate_snr_db(np.zeros(48000, np.float32)) is None
    assert estimate_snr_db(np.full(48000, 1e-5, np.float32)) is None  # -100 dBFS counts as silence


def test_pack_group_makes_10_to_20_second_runs():
    assert pack_group([4, 4, 4, 4, 4, 4, 3], 10, 20) == [[0, 1, 2], [3, 4, 5], [6]]
    assert pack_group([9, 12, 3], 10, 20) == [[0, 1], [2]]
    assert pack_group([6, 5, 11], 10, 15) == [[0, 1], [2]]


def test_group_keys(tmp_path):
    assert group_key("M003/video/front/angry/level_1/001.mp4", "folder") == "M003/video/front/angry/level_1"
    ravdess = r"\d\d-\d\d-(?P<emotion>\d\d)-\d\d-\d\d-\d\d-(?P<actor>\d\d)"
    assert group_key("Actor_12/01-01-03-01-01-01-12.mp4", ravdess) == "actor=12-emotion=03"
    assert group_key("other.mp4", ravdess) is None
    with pytest.raises(X3DError, match="bad --stitch pattern"):
        group_key("a.mp4", "(unclosed")
    paths = [tmp_path / n for n in ("a/1.mp4", "a/2.mp4", "a/3.mp4", "b/1.mp4")]
    units = plan_units(paths, tmp_path, "folder", dict(zip(paths, [6.0, 6.0, 6.0, 12.0])))
    assert [(u.id, u.inputs) for u in units] == [
        ("stitch/a/000", ("a/1.mp4", "a/2.mp4")), ("stitch/a/001", ("a/3.mp4",)), ("stitch/b/000", ("b/1.mp4",))]
    assert units[0].out_name == "stitch__a__000"


def test_shards_partition_the_items():
    keys = [f"clip{i:04d}" for i in range(400)]
    owners = [[k for k in keys if Shard(i, 4).owns(k)] for i in range(4)]
    assert sorted(sum(owners, [])) == keys
    assert all(60 < len(o) < 140 for o in owners)  # roughly even
    assert parse_shard("2/4") == Shard(2, 4) and parse_shard(None) == Shard()
    for bad in ("4/4", "a/b", "1", "-1/3"):
        with pytest.raises(X3DError, match="--shard"):
            parse_shard(bad)


def test_manifest_survives_a_torn_line(tmp_path):
    m = Manifest(tmp_path, shard=Shard(1, 3))
    m.append({"id": "a", "unit": "a"})
    with open(m.path, "a") as f:
        f.write('{"id": "b", "un')  # killed mid-write
    m.append({"id": "c", "unit": "c"})
    assert [r["id"] for r in Manifest(tmp_path).rows()] == ["a", "c"]
    assert m.path.name == "manifest-00001-of-00003.jsonl"


def test_normalisation_resamples_fps_and_centre_crops(tmp_path):
    t = 30  # 1 s at 30 fps: a bright bar moves right one column per frame
    frames = np.zeros((t, 48, 80, 3), np.uint8)
    for i in range(t):
        frames[i, :, 20 + i] = 255
    write_mp4(tmp_path / "v.mp4", frames, 30, audio=np.zeros(16000, np.float32))
    meta = probe_video(tmp_path / "v.mp4", decode=False)
    assert (meta.width, meta.height, meta.audio_sample_rate) == (80, 48, 16000)
    assert meta.video_seconds == pytest.approx(1.0, abs=0.05) and meta.frames == 30
    assert meta.audio_seconds == pytest.approx(1.0, abs=0.1)
    full = probe_video(tmp_path / "v.mp4")  # decoding every frame agrees with the headers
    assert full.frames == meta.frames and full.video_seconds == pytest.approx(meta.video_seconds, abs=0.05)
    out = read_frames(tmp_path / "v.mp4", fps=25, size=24)
    assert out.shape == (25, 24, 24, 3)
    # frame k of the 25 fps stream shows source frame round(k * 30 / 25); scaled to 40x24, 8 px cropped per side
    cols = [int(np.argmax(out[k].mean(axis=(0, 2)))) for k in (0, 10, 20)]
    expected = [(20 + round(k * 1.2)) / 2 - 8 for k in (0, 10, 20)]
    assert all(abs(c - e) <= 1 for c, e in zip(cols, expected))
    assert crop_box(1920, 1080, 512) == (910, 512, 199, 0)
    assert crop_box(720, 1280, 512) == (512, 910, 0, 199)
