"""`curate` end to end on generated H.264/AAC talking-head videos: the right clips kept and rejected
with the right reasons, resume after a kill, shards equal one run, stitching, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import shared_models_dir
from test_curate_models import save_tiny_whisper

from x3dtalker_core.cli import main
from x3dtalker_core.data.curate import CurateConfig, Manifest, Shard, curate
from x3dtalker_core.data.curate.samples import (
    make_talking_video,
    render_jaw_atlas,
    speech,
)
from x3dtalker_core.data.synth.tts import engine_available
from x3dtalker_core.render.video import probe_video

pytestmark = [
    pytest.mark.skipif(shared_models_dir() is None, reason="X3DTALKER_MODELS has no flame/ folder (dev head)"),
    pytest.mark.skipif(not engine_available("flite"), reason="flite TTS not installed (apt-get install flite)"),
]
pytest.importorskip("whisper", reason="openai-whisper not installed")

EXPECTED = {  # input -> (status, rejecting filter)
    "short.mp4": ("rejected", "duration"),
    "noisy.mp4": ("rejected", "snr"),
    "silent.mp4": ("rejected", "snr"),
    "offsync.mp4": ("rejected", "sync"),
    "long.mp4": ("kept", None),
    "portrait.mp4": ("kept", None),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("curate")
    src = root / "videos"
    atlas = render_jaw_atlas(96, levels=5)
    a = speech(4.0)
    rng = np.random.default_rng(0)
    noisy = np.clip(a + rng.normal(0, np.sqrt((a**2).mean()), a.size), -1, 1).astype(np.float32)  # ~0 dB
    make_talking_video(src / "long.mp4", speech(6.0), atlas)
    make_talking_video(src / "short.mp4", a[:16000], atlas)
    make_talking_video(src / "noisy.mp4", noisy, atlas, motion_audio=a)
    make_talking_video(src / "silent.mp4", np.zeros_like(a), atlas, motion_audio=a)
    make_talking_video(src / "offsync.mp4", a, atlas, offset_frames=10)  # audio 0.4 s late
    make_talking_video(src / "portrait.mp4", a, atlas, width=64, height=112)
    whisper = save_tiny_whisper(root / "whisper-en.pt", "en")
    return {"root": root, "src": src, "atlas": atlas, "speech": a, "whisper": whisper}


CONFIG = CurateConfig(min_duration=3.0, size=64, sync_model="motion")


def rows_by_id(out):
    return {r["id"]: r for r in Manifest(out).rows()}


def test_filters_keep_and_reject_the_right_videos(videos):
    out = videos["root"] / "run"
    summary = curate(videos["src"], out, CONFIG, whisper_path=videos["whisper"], progress=False)
    assert (summary.processed, summary.kept, summary.rejected) == (6, 2, 4)
    rows = rows_by_id(out)
    assert {k: (r["status"], r["filter"]) for k, r in rows.items()} == EXPECTED
    assert rows["short.mp4"]["value"] == pytest.approx(1.0, abs=0.05)
    assert rows["noisy.mp4"]["value"] < 8.0 and rows["long.mp4"]["measures"]["snr_db"] > 20.0
    assert rows["silent.mp4"]["value"] is None and "silent" in rows["silent.mp4"]["reason"]
    assert abs(rows["offsync.mp4"]["value"] - 10) <= 1
    for name in ("long.mp4", "portrait.mp4"):
        m = rows[name]["measures"]
        assert m["language"] == "en" and m["prob_en"] > 0.8 and abs(m["sync_offset"]) <= 1
        info = probe_video(out / rows[name]["outputs"]["video"])
        assert (info.width, info.height, info.fps, info.codec) == (64, 64, 25.0, "h264")
        assert info.audio_sample_rate == 16000
    assert probe_video(out / rows["long.mp4"]["outputs"]["video"]).frames == 150
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["long.mp4", "long.wav", "portrait.mp4", "portrait.wav"]


def test_killed_run_resumes_without_redoing(videos):
    out = videos["root"] / "resume"
    seen = []

    def kill_after_two(unit, outcome):
        seen.append(unit.id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        curate(videos["src"], out, CONFIG, whisper_path=videos["whisper"], progress=False, on_unit=kill_after_two)
    first = rows_by_id(out)
    assert set(first) == {u + ".mp4" for u in seen}
    redone = []
    summary = curate(videos["src"], out, CONFIG, whisper_path=videos["whisper"], progress=False,
                     on_unit=lambda u, o: redone.append(u.id))
    assert summary.skipped == 2 and summary.processed == 4 and not set(redone) & set(seen)
    rows = Manifest(out).rows()
    assert len(rows) == 6 and {r["id"]: (r["status"], r["filter"]) for r in rows} == EXPECTED
    assert not [p for p in (out / "clips").iterdir() if p.name.startswith(".")]  # no partial files
    again = curate(videos["src"], out, CONFIG, whisper_path=videos["whisper"], progress=False)
    assert again.processed == 0 and again.skipped == 6


def test_two_shards_equal_one_run(videos):
    out = videos["root"] / "sharded"
    counts = [curate(videos["src"], out, CONFIG, Shard(i, 2), whisper_path=videos["whisper"], progress=False).processed
              for i in range(2)]
    assert sum(counts) == 6 and min(counts) >= 1
    assert len(Manifest(out).files()) == 2
    single = rows_by_id(videos["root"] / "run") if (videos["root"] / "run").exists() else None
    if single is None:
        curate(videos["src"], videos["root"] / "run", CONFIG, whisper_path=videos["whisper"], progress=False)
        single = rows_by_id(videos["root"] / "run")

    def strip(rows):
        return {k: {f: v for f, v in r.items() if f != "seconds"} for k, r in rows.items()}

    assert strip(rows_by_id(out)) == strip(single)
    assert sorted(p.name for p in (out / "clips").iterdir()) == sorted(
        p.name for p in (videos["root"] / "run" / "clips").iterdir())


def test_short_clips_of_one_speaker_and_emotion_are_stitched(videos, tmp_path):
    src = tmp_path / "lab"
    a = videos["speech"]
    for spk, emo, n in (("M003", "angry", 3), ("W011", "happy", 1)):
        for k in range(n):
            make_talking_video(src / spk / emo / f"{k:03d}.mp4", a[k * 8000 : k * 8000 + 25600], videos["atlas"])
    out = tmp_path / "out"
    cfg = CurateConfig(min_duration=3.0, size=64, sync=False, language=False, stitch="folder", stitch_max=4.0)
    curate(src, out, cfg, progress=False)
    rows = rows_by_id(out)
    assert rows["M003/angry/000.mp4"]["unit"] == rows["M003/angry/001.mp4"]["unit"] == "stitch/M003/angry/000"
    assert rows["M003/angry/000.mp4"]["status"] == "kept"
    assert rows["M003/angry/000.mp4"]["stitched"] == ["M003/angry/000.mp4", "M003/angry/001.mp4"]
    assert rows["M003/angry/002.mp4"]["filter"] == "duration"  # the 1.6 s leftover
    assert rows["W011/happy/000.mp4"]["filter"] == "duration"
    clip = out / rows["M003/angry/000.mp4"]["outputs"]["video"]
    assert probe_video(clip).frames == 80  # 2 x 1.6 s at 25 fps


def test_cli_runs_and_errors_are_one_line(videos, tmp_path, capsys):
    code = main(["curate", "--videos", str(videos["src"]), "--out", str(tmp_path / "o"), "--min-duration", "3",
                 "--size", "64", "--sync-model", "motion", "--whisper", str(videos["whisper"]), "--shard", "1/3",
                 "--no-progress"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["processed"] == len(Manifest(tmp_path / "o", shard=Shard(1, 3)).rows())
    assert (tmp_path / "o" / "manifest-00001-of-00003.jsonl").is_file()
    assert main(["curate", "--videos", str(tmp_path / "nope"), "--out", str(tmp_path / "o2"), "--no-language"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not found" in err and "\n" not in err
    assert main(["curate", "--videos", str(videos["src"]), "--out", str(tmp_path / "o3"), "--shard", "3/2"]) == 2
    assert "--shard" in capsys.readouterr().err
