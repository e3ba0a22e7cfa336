"""Training: a tiny model overfits two short clips; exact resume; window seams; config, stats, data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open

from x3dtalker_core.audio import extract_features
from x3dtalker_core.data.layout import read_sequence_dir, write_sequence_dir
from x3dtalker_core.errors import X3DError
from x3dtalker_core.model import generate_sequence, load_generator
from x3dtalker_core.model.windows import plan_windows
from x3dtalker_core.params import PARAM_DIM, FlameSequence
from x3dtalker_core.train.config import apply_overrides, load_run_config, run_preset
from x3dtalker_core.train.dataset import CropDataset, EpochBatchSampler, discover_clips, open_clip
from x3dtalker_core.train.stats import compute_stats
from x3dtalker_core.train.trainer import train

FRAMES = 60


def synthetic_clip(seed: int, frames: int) -> tuple[FlameSequence, np.ndarray]:
    """Voiced syllables at 2-5 Hz; the jaw opens with the loudness, expressions drift slowly."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames * 640) / 16000
    env = np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6)), 0, None) ** 1.5
    audio = (0.5 * env * np.sin(2 * np.pi * rng.uniform(120, 220) * t)).astype(np.float32)
    amp = env.reshape(frames, 640).mean(1)
    f = np.arange(frames)[:, None]
    params = np.zeros((frames, PARAM_DIM), np.float32)
    params[:, :100] = rng.normal(0, 0.5, 100)
    params[:, 100:150] = rng.normal(0, 0.3, 50) + 0.2 * np.sin(f / 7 + rng.uniform(0, 6, 50))
    params[:, 150:153] = 0.05 * np.sin(f / 11 + rng.uniform(0, 6, 3))
    params[:, 153] = 0.25 * amp
    return FlameSequence(params), audio


def small_run(steps: int, *extra: str):
    return apply_overrides(run_preset("small"), [
        f"window={FRAMES}", "train.batch_size=8", f"train.max_steps={steps}", "train.lr=3e-3", "train.log_every=1",
        "train.eval_every=100", "train.save_every=0", "model.hidden=64", "model.heads=4", *extra])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for i, name in enumerate("ab"):
        seq, audio = synthetic_clip(i + 1, FRAMES)
        write_sequence_dir(root / "data" / "DS" / name, seq, audio=audio)
    return root


@pytest.fixture(scope="module")
def trained(corpus):
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on the shared CPU
    result = train(small_run(200), [corpus / "data"], corpus / "run", show_progress=False)
    return result


def test_loss_falls_tenfold(trained):
    losses = np.array([loss for _, loss in trained.losses])
    assert len(losses) == 200
    assert losses[:10].mean() / losses[-30:].mean() >= 10.0
    assert trained.eval_losses and trained.eval_losses[-1][1] < trained.eval_losses[0][1]


def test_sampling_reproduces_jaw(trained, corpus):
    gen = load_generator(trained.checkpoint, device="cpu")
    for name in "ab":
        seq, audio = read_sequence_dir(corpus / "data" / "DS" / name)
        out = generate_sequence(gen, seq.frame(0), extract_features(audio), steps=32, seed=0, smoothing=None)
        r = np.corrcoef(out.params[:, 153], seq.params[:, 153])[0, 1]
        assert r > 0.9, f"clip {name}: jaw correlation {r:.3f}"


def test_window_seams_on_60s_clip(trained, corpus, tmp_path):
    """Largest frame-to-frame jump at a seam <= largest jump inside windows (trained model, 60 s)."""
    gen = load_generator(trained.checkpoint, device="cpu")
    _, audio = synthetic_clip(9, 1500)
    ref, _ = read_sequence_dir(corpus / "data" / "DS" / "a")
    seq = generate_sequence(gen, ref.frame(0), extract_features(audio), steps=16, seed=0, smoothing=None)
    plan = plan_windows(1500, gen.config.window, seq.metadata["overlap"])
    covered = np.zeros(1500, int)
    for s, e in plan:
        covered[s:e] += 1
    jumps = np.linalg.norm(np.diff(seq.params, axis=0), axis=1)
    seam = (covered[:-1] > 1) | (covered[1:] > 1)
    assert len(plan) > 20 and seam.any() and (~seam).any()
    assert jumps[seam].max() <= jumps[~seam].max()


def test_run_folder_contents(trained, corpus):
    run = corpus / "run"
    assert (run / "config.yaml").is_file() and (run / "stats.npz").is_file()
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch,lr,loss") and len(rows) == 201
    with safe_open(str(run / "generator.safetensors"), framework="pt") as f:
        meta = f.metadata()
    info = yaml.safe_load(meta["info"])
    assert info["training"]["clips"] == 2 and info["training"]["datasets"] == {"DS": 2}
    config = yaml.safe_load(meta["config"])
    assert config["model"]["linguistic_encoder"] == "mel" and config["model"]["linguistic_dim"] == 320


def test_exact_resume(corpus, tmp_path):
    cfg = small_run(4, "model.dropout=0.1", "train.eval_every=0", "train.save_every=2", "train.batch_size=2",
                    "train.keep_checkpoints=5")
    straight = train(cfg, [corpus / "data"], tmp_path / "a", show_progress=False)
    first = train(cfg, [corpus / "data"], tmp_path / "b", stop_at=2, show_progress=False)
    assert first.steps == 2
    resumed = train(cfg, [corpus / "data"], tmp_path / "b", resume="latest", show_progress=False)
    assert resumed.steps == 4
    with safe_open(str(straight.checkpoint), "pt") as fa, safe_open(str(resumed.checkpoint), "pt") as fb:
        assert set(fa.keys()) == set(fb.keys())
        for key in fa.keys():
            assert torch.equal(fa.get_tensor(key), fb.get_tensor(key)), key
    assert [l for _, l in straight.losses][2:] == [l for _, l in resumed.losses]
    with pytest.raises(X3DError, match="cannot resume"):
        train(cfg, [corpus / "data"], tmp_path / "empty", resume="latest", show_progress=False)


def test_config_yaml_presets_and_errors(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("preset: small\nwindow: 80\nmodel: {hidden: 96, heads: 4}\nflow: {anchors: fixed}\n"
                    "train: {lr: 1e-3, repeats: {HDTF: 4}}\n")
    cfg = load_run_config(path)
    assert cfg.generator.window == 80 and cfg.generator.model.hidden == 96 and cfg.train.lr == 1e-3
    assert cfg.generator.flow.anchors == "fixed" and cfg.train.repeats == {"HDTF": 4}
    again = tmp_path / "again.yaml"
    again.write_text(cfg.to_yaml())
    assert load_run_config(again) == cfg
    assert load_run_config("paper").generator.model.hidden == 768
    path.write_text("model: {hiden: 3}\n")
    with pytest.raises(X3DError, match="hiden"):
        load_run_config(path)
    with pytest.raises(X3DError, match="neither a preset"):
        load_run_config(tmp_path / "missing.yaml")
    with pytest.raises(X3DError, match="must be a float"):
        apply_overrides(cfg, ["train.lr=fast"])


def test_welford_stats_match_numpy():
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(n, PARAM_DIM)) * 3 + 1 for n in (5, 17, 40)]
    stats = compute_stats(iter(clips))
    deltas = np.concatenate([c - c[:1] for c in clips])
    np.testing.assert_allclose(stats.delta_mean, deltas.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.delta_std, deltas.std(0), rtol=1e-5)
    np.testing.assert_allclose(stats.ref_std, np.concatenate(clips).std(0), rtol=1e-5)
    assert stats.frames == 62


def test_crops_repeats_and_sharding(corpus, trained):
    entries = discover_clips([corpus / "data"], "mel", "prosody")
    clips = [open_clip(e) for e in entries]
    ds = CropDataset(clips, 20, repeats={"DS": 3}, seed=5)
    assert len(ds) == 6
    a, b = ds[(0, 1)], ds[(0, 1)]
    assert all(torch.equal(a[k], b[k]) for k in a) and a["params"].shape == (20, PARAM_DIM)
    assert torch.equal(a["reference"][0], torch.tensor(np.asarray(clips[0].params[0])))
    shards = [list(EpochBatchSampler(6, 1, seed=0, rank=r, world=2).epoch_batches(0)) for r in (0, 1)]
    keys = [k for shard in shards for batch in shard for k in batch]
    assert sorted(i for _, i in keys) == list(range(6))
    sampler = EpochBatchSampler(6, 2, seed=0)
    sampler.set_position(4, 2)
    it = iter(sampler)
    assert next(it)[0][0] == 4 and next(it)[0][0] == 5  # resumes mid-epoch, then runs on


def test_reference_seal_loosening_keeps_the_crop(corpus, trained):
    """reference_seal: in its share of items only the reference's seal column shrinks, never the crop."""
    entries = discover_clips([corpus / "data"], "mel", "prosody")
    clips = [open_clip(e) for e in entries]
    column = 100 + 5
    plain = CropDataset(clips, 20, seed=5)
    loose = CropDataset(clips, 20, seed=5, reference_seal=(column, 1.0))
    never = CropDataset(clips, 20, seed=5, reference_seal=(column, 0.0))
    shrunk = 0
    for epoch in range(4):
        a, b, c = plain[(epoch, 0)], loose[(epoch, 0)], never[(epoch, 0)]
        assert torch.equal(a["params"], b["params"]) and torch.equal(a["reference"], c["reference"])
        ref, new = a["reference"][0], b["reference"][0]
        others = torch.arange(PARAM_DIM) != column
        assert torch.equal(ref[others], new[others])
        ratio = float(new[column] / ref[column])
        assert 0.0 <= ratio <= 1.0
        shrunk += ratio < 1.0
    assert shrunk == 4


def test_fine_tune_starts_from_the_checkpoint(corpus, trained, tmp_path):
    """train.init: step 1 of the fine-tune has the trained model's loss, not a fresh one's; the statistics
    are the checkpoint's; a different architecture is refused."""
    cfg = small_run(1, f"train.init={trained.checkpoint}", "train.lr=1e-9", "train.eval_every=0")
    tuned = train(cfg, [corpus / "data"], tmp_path / "ft", show_progress=False)
    fresh = train(small_run(1, "train.eval_every=0"), [corpus / "data"], tmp_path / "fresh", show_progress=False)
    assert tuned.losses[0][1] < 0.5 * fresh.losses[0][1]
    a, b = np.load(corpus / "run" / "stats.npz"), np.load(tmp_path / "ft" / "stats.npz")
    np.testing.assert_allclose(a["delta_std"], b["delta_std"])
    with safe_open(str(tuned.checkpoint), "pt") as f:
        summary = json.loads(f.metadata()["info"])["training"]
    assert summary["init"]["file"] == trained.checkpoint.name and len(summary["init"]["sha256"]) == 64
    with pytest.raises(X3DError, match="fine-tuning needs the same architecture"):
        train(small_run(1, f"train.init={trained.checkpoint}", "model.hidden=32"), [corpus / "data"],
              tmp_path / "bad", show_progress=False)
    with pytest.raises(X3DError, match="expression_space: arkit"):
        train(small_run(1, "train.reference_lips_apart=0.5"), [corpus / "data"], tmp_path / "lips",
              show_progress=False)
