"""Flow-matching training loop on `accelerate` (CPU, one GPU, multi-GPU DDP, multi-node: unchanged code).

Output folder::

    <out>/config.yaml               the resolved run config
    <out>/stats.npz                 normalisation statistics (also inside every exported checkpoint)
    <out>/log.csv                   step, lr, loss (+ per group), grad norm, eval loss, elapsed seconds
    <out>/checkpoints/step_NNNNNNN/ accelerate state (weights, optimiser, scheduler, RNG) + trainer.json
                                    + generator.safetensors (the inference checkpoint of that step)
    <out>/generator.safetensors     the latest inference checkpoint

Exact resume: the data order, crops, flow times and noise are pure functions of (seed, step, rank),
and accelerate restores weights, optimiser, scheduler and RNG states, so a run stopped and resumed
at step N continues bit-identically (on the same hardware and process count).

Departures from the authors' training (REFERENCE-NOTES §3, §9): targets are built in fp32 (the
authors cast to bf16 first), the scheduler is stepped once per optimiser step (accelerate would step
a prepared scheduler once per process), frozen encoders are not in the loop at all (precomputed
features), evaluation runs on fixed crops every ``eval_every`` steps, resume finds its checkpoints.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import X3DError
from ..model.checkpoint import save_checkpoint
from ..model.flow import FlowBatch, flow_matching_loss
from ..model.network import FlowTransformer
from .config import RunConfig
from .dataset import (
    CropDataset, EpochBatchSampler, FeatureExtractor, collate, discover_clips, feature_dims, open_clip,
    precompute_features,
)
from .stats import compute_stats, load_stats, save_stats

log = logging.getLogger(__name__)

LOG_FIELDS = ["step", "epoch", "lr", "loss", "grad_norm", "shape", "exp", "head", "jaw", "detail", "eval_loss",
              "seconds"]


@dataclass
class TrainResult:
    """What a run did (main process view)."""

    steps: int
    checkpoint: Path | None
    losses: list[tuple[int, float]] = field(default_factory=list)
    eval_losses: list[tuple[int, float]] = field(default_factory=list)
    is_main: bool = True


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1)[0])


def find_resume_dir(out: Path, resume: str) -> Path:
    """``latest`` -> newest complete ``checkpoints/step_*`` folder of ``out``; else the given folder."""
    if resume != "latest":
        p = Path(resume)
        if not (p / "trainer.json").is_file():
            raise X3DError(f"cannot resume from {p}: not a complete training checkpoint (no trainer.json)")
        return p
    done = sorted(p for p in (out / "checkpoints").glob("step_*") if (p / "trainer.json").is_file())
    if not done:
        raise X3DError(f"cannot resume: no complete checkpoint in {out / 'checkpoints'}")
    return done[-1]


def _to_batch(batch: dict[str, torch.Tensor], device: torch.device) -> FlowBatch:
    return FlowBatch(**{k: v.to(device, non_blocking=True) for k, v in batch.items()})


def train(config: RunConfig, data: list[str | Path], out: str | Path, *, features_dir: str | Path | None = None,
          resume: str | None = None, extractor: FeatureExtractor | None = None, stop_at: int | None = None,
          show_progress: bool = True) -> TrainResult:
    """Train (or resume) a generator on sequence folders under ``data``; see the module docstring.

    Args:
        stop_at: end this session after this optimiser step (saving a resumable checkpoint) while
            keeping the schedule of ``train.max_steps``: for time-limited jobs; continue with ``resume``.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    out = Path(out)
    tc = config.train
    # Without CUDA, tell accelerate so: several processes (torchrun / `accelerate launch --multi_gpu`)
    # then form a gloo process group on the CPU instead of silently running as independent copies.
    accelerator = Accelerator(mixed_precision=tc.precision, cpu=not torch.cuda.is_available())
    set_seed(tc.seed)

    envelope = config.generator.model.amplitude_input == "envelope"
    clips, val_clips = _training_clips(config, data, features_dir, extractor, accelerator, show_progress, envelope)
    gen_cfg = _with_feature_dims(config, clips)
    initial = _initial_network(tc.init, gen_cfg) if tc.init else None
    stats = _training_stats(config, gen_cfg, clips, out, resume, accelerator,
                            initial.normalizer.stats() if initial is not None else None)

    network = initial if initial is not None else FlowTransformer(gen_cfg.model)
    network.normalizer.set_stats(stats)
    optimizer = torch.optim.AdamW(network.parameters(), lr=tc.lr, weight_decay=tc.weight_decay, eps=1e-8, foreach=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=tc.lr, total_steps=tc.max_steps, pct_start=tc.pct_start, div_factor=tc.div_factor,
        final_div_factor=tc.final_div_factor)
    model, optimizer = accelerator.prepare(network, optimizer)
    # Stepped by hand once per optimiser step; registered so save_state/load_state cover it.
    accelerator.register_for_checkpointing(scheduler)

    step = 0
    if resume:
        resume_dir = find_resume_dir(out, resume)
        accelerator.load_state(str(resume_dir))
        step = int(json.loads((resume_dir / "trainer.json").read_text())["step"])
        if accelerator.is_main_process:
            log.info("resumed from %s at step %d", resume_dir, step)

    window = gen_cfg.window
    dataset = CropDataset(clips, window, tc.repeats, tc.seed, envelope=envelope,
                          reference_seal=_reference_seal(gen_cfg, tc))
    sampler = EpochBatchSampler(len(dataset), tc.batch_size, tc.seed, accelerator.process_index,
                                accelerator.num_processes)
    # Own generator: creating the iterator must not draw from the global RNG (dropout uses it), or a
    # resumed run (iterator created after load_state) would diverge from an uninterrupted one.
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                                         num_workers=tc.num_workers, pin_memory=accelerator.device.type == "cuda",
                                         generator=torch.Generator().manual_seed(tc.seed))
    eval_set = _eval_batches(CropDataset(val_clips or clips, window, None, tc.seed + 1, envelope=envelope), tc)
    summary = _data_summary(config, clips, val_clips, accelerator)
    loop = _Loop(accelerator, model, optimizer, scheduler, gen_cfg, tc, out, summary)
    return loop.run(step, sampler, loader, eval_set, resume, stop_at, show_progress)


def _training_clips(config: RunConfig, data: list[str | Path], features_dir, extractor, accelerator,
                    show_progress: bool, envelope: bool) -> tuple[list, list]:
    """Precompute missing features (main process), open every clip long enough for the window and
    split off the validation clips: (training clips, validation clips)."""
    tc, window, main = config.train, config.generator.window, accelerator.is_main_process
    entries = discover_clips(list(data), tc.linguistic, tc.emotion, features_dir)
    if main:
        counts = precompute_features(entries, tc.linguistic, tc.emotion, extractor, show_progress=show_progress,
                                     need_envelope=envelope)
        if counts["computed"]:
            log.info("precomputed features for %d clips", counts["computed"])
    accelerator.wait_for_everyone()
    clips = []
    for e in entries:
        if not (e.cache / "meta.json").is_file():
            continue  # no audio: skipped at precompute
        clip = open_clip(e)
        if clip.num_frames >= window:
            clips.append(clip)
    short = len(entries) - len(clips)
    if short and main:
        log.warning("%d of %d clips are shorter than the %d-frame window (or have no audio) and are not used",
                    short, len(entries), window)
    if not clips:
        raise X3DError(f"no clip has at least {window} frames with audio; lower `window` in the config")
    if not (tc.val_fraction > 0 and len(clips) >= 2):
        return clips, []
    order = np.random.default_rng(tc.seed).permutation(len(clips))
    val_idx = set(order[:max(1, int(round(tc.val_fraction * len(clips))))].tolist())
    return [c for i, c in enumerate(clips) if i not in val_idx], [c for i, c in enumerate(clips) if i in val_idx]


def _with_feature_dims(config: RunConfig, clips: list):
    """The generator config with the encoder names and widths of the cached features."""
    ling_name, ling_dim, emo_name, emo_dim = feature_dims(clips)
    model_cfg = dataclasses.replace(config.generator.model, linguistic_encoder=ling_name, linguistic_dim=ling_dim,
                                    emotion_encoder=emo_name, emotion_dim=emo_dim)
    return config.generator.replace(model=model_cfg)


def _initial_network(init: str, gen_cfg) -> FlowTransformer:
    """The network of checkpoint ``init`` (weights and normalisation statistics) to fine-tune; its
    architecture, encoders and expression space must be the run's."""
    from ..model.checkpoint import load_network, resolve_checkpoint

    network, ck_cfg, _ = load_network(resolve_checkpoint(init))
    pairs = (("model", ck_cfg.model, gen_cfg.model), ("window", ck_cfg.window, gen_cfg.window),
             ("expression_space", ck_cfg.expression_space, gen_cfg.expression_space))
    mismatch = [name for name, a, b in pairs if a != b]
    if mismatch:
        raise X3DError(f"train.init {init}: its {', '.join(mismatch)} differ from this run's config (and data); "
                       "fine-tuning needs the same architecture, encoders and expression space")
    network.train()
    return network


def _reference_seal(gen_cfg, tc) -> tuple[int, float] | None:
    """(parameter column of ARKit ``mouthClose``, share) for :class:`CropDataset`, or None."""
    if tc.reference_lips_apart <= 0:
        return None
    if gen_cfg.expression_space != "arkit":
        raise X3DError("train.reference_lips_apart loosens the ARKit lip seal (mouthClose): it needs "
                       f"expression_space: arkit, this run has {gen_cfg.expression_space!r}")
    from ..flame.arkit import ARKIT_EXPRESSION_NAMES
    from ..params import EXP

    return EXP.start + ARKIT_EXPRESSION_NAMES.index("mouthClose"), float(tc.reference_lips_apart)


def _training_stats(config: RunConfig, gen_cfg, clips: list, out: Path, resume: str | None, accelerator,
                    initial=None):
    """Normalisation statistics (computed or loaded once, kept on resume; a fine-tune keeps its
    checkpoint's, ``initial``) and the resolved config.yaml."""
    tc = config.train
    stats_path = out / "stats.npz"
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        if not (resume and stats_path.is_file()):
            if initial is not None:
                stats = initial
            elif tc.stats == "data":
                stats = compute_stats(np.asarray(c.params) for c in clips)
            else:
                stats = load_stats(tc.stats)
            save_stats(stats_path, stats)
        (out / "config.yaml").write_text(type(config)(gen_cfg, tc, config.preset).to_yaml())
    accelerator.wait_for_everyone()
    return load_stats(stats_path)


def _data_summary(config: RunConfig, clips: list, val_clips: list, accelerator) -> dict:
    """What the checkpoint records about its training data and run."""
    tc = config.train
    summary = {
        "clips": len(clips), "val_clips": len(val_clips), "frames": int(sum(c.num_frames for c in clips)),
        "datasets": {}, "preset": config.preset, "seed": tc.seed, "stats": tc.stats, "window": config.generator.window,
        "batch_size": tc.batch_size, "processes": accelerator.num_processes, "max_steps": tc.max_steps,
    }
    for c in clips:
        summary["datasets"][c.entry.dataset] = summary["datasets"].get(c.entry.dataset, 0) + 1
    summary["hours"] = round(summary["frames"] / 25 / 3600, 4)
    if tc.init:  # a fine-tune: which checkpoint it started from (its statistics are that checkpoint's)
        import hashlib

        from ..model.checkpoint import resolve_checkpoint

        init = resolve_checkpoint(tc.init)
        summary["init"] = {"file": init.name, "sha256": hashlib.sha256(init.read_bytes()).hexdigest()}
        summary["stats"] = "init"
    if tc.reference_lips_apart:
        summary["reference_lips_apart"] = tc.reference_lips_apart
    return summary


class _Loop:
    """The optimisation loop of one session: steps, logging, evaluation, checkpoints."""

    def __init__(self, accelerator, model, optimizer, scheduler, gen_cfg, tc, out: Path, summary: dict):
        self.accelerator, self.model, self.optimizer, self.scheduler = accelerator, model, optimizer, scheduler
        self.unwrapped: FlowTransformer = accelerator.unwrap_model(model)
        self.gen_cfg, self.tc, self.out, self.summary = gen_cfg, tc, out, summary

    def run(self, step: int, sampler, loader, eval_set, resume: str | None, stop_at: int | None,
            show_progress: bool) -> TrainResult:
        from tqdm import tqdm

        acc, tc = self.accelerator, self.tc
        main = acc.is_main_process
        result = TrainResult(steps=step, checkpoint=None, is_main=main)
        log_file = self.out / "log.csv"
        if main and (not log_file.is_file() or not resume):
            with open(log_file, "w", newline="") as fh:
                csv.writer(fh).writerow(LOG_FIELDS)
        tb = _tensorboard(self.out, tc.tensorboard) if main else None
        t_start = time.time()
        bar = tqdm(total=tc.max_steps, initial=step, desc="train", unit="step", disable=not (main and show_progress))
        self.model.train()
        last_saved = step if resume else -1
        end = tc.max_steps if stop_at is None else min(tc.max_steps, int(stop_at))
        sampler.set_position(*divmod(step, sampler.steps_per_epoch))
        batches = iter(loader)
        while step < end:
            # one optimiser step per iteration; the sampler runs through the epochs by itself
            epoch = step // sampler.steps_per_epoch
            loss, parts, grad_norm, lr = self._step(next(batches), step)
            step += 1
            bar.update(1)
            row = None
            if step % tc.log_every == 0 or step == tc.max_steps:
                mean_loss = float(acc.reduce(loss.detach().float(), reduction="mean"))
                row = {"step": step, "epoch": epoch, "lr": lr, "loss": mean_loss,
                       "grad_norm": float(grad_norm) if grad_norm is not None else "", **parts,
                       "eval_loss": "", "seconds": round(time.time() - t_start, 2)}
                result.losses.append((step, mean_loss))
                bar.set_postfix(loss=f"{mean_loss:.4f}")
            if tc.eval_every and (step % tc.eval_every == 0 or step == tc.max_steps) and main:
                ev = _evaluate(self.unwrapped, eval_set, self.gen_cfg.flow, acc, tc.seed)
                result.eval_losses.append((step, ev))
                row = row or {"step": step, "epoch": epoch, "lr": lr, "loss": "",
                              "grad_norm": "", "seconds": round(time.time() - t_start, 2)}
                row["eval_loss"] = ev
            if main and row is not None:
                _write_log_row(log_file, tb, row, step)
            if (tc.save_every and step % tc.save_every == 0) or step == end:
                result.checkpoint = self._save(step)
                last_saved = step
        bar.close()
        if last_saved != step:
            result.checkpoint = self._save(step)
        if tb is not None:
            tb.close()
        acc.wait_for_everyone()
        acc.end_training()
        result.steps = step
        return result

    def _step(self, raw: dict[str, torch.Tensor], step: int):
        """One optimiser step on one batch: (loss, per-group MSE, grad norm or None, lr used)."""
        acc, tc = self.accelerator, self.tc
        batch = _to_batch(raw, acc.device)
        gen = torch.Generator(device=acc.device).manual_seed(step_seed(tc.seed, step, acc.process_index))
        with acc.autocast():
            loss, parts = flow_matching_loss(self.model, self.unwrapped.normalizer, batch, self.gen_cfg.flow, gen)
        acc.backward(loss)
        grad_norm = acc.clip_grad_norm_(self.model.parameters(), tc.grad_clip) if tc.grad_clip > 0 else None
        lr = self.scheduler.get_last_lr()[0]  # the rate this step used
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss, parts, grad_norm, lr

    def _save(self, step: int) -> Path:
        return _save(self.accelerator, self.unwrapped, self.gen_cfg, self.out, step, {**self.summary, "steps": step},
                     self.tc)


def _write_log_row(log_file: Path, tb, row: dict, step: int) -> None:
    with open(log_file, "a", newline="") as fh:
        csv.DictWriter(fh, LOG_FIELDS).writerow({k: row.get(k, "") for k in LOG_FIELDS})
    if tb is not None:
        for k in ("loss", "eval_loss", "lr", "grad_norm"):
            if row.get(k, "") != "":
                tb.add_scalar(k, float(row[k]), step)


def _eval_batches(dataset: CropDataset, tc) -> list[dict[str, torch.Tensor]]:
    """Fixed evaluation crops: the same batches at every evaluation."""
    rng = np.random.default_rng([tc.seed, 7])
    n = max(1, tc.eval_batches) * tc.batch_size
    order = np.concatenate([rng.permutation(len(dataset)) for _ in range(-(-n // len(dataset)))])[:n]
    items = [dataset[(-1, int(i))] for i in order]
    return [collate(items[i:i + tc.batch_size]) for i in range(0, n, tc.batch_size)]


@torch.no_grad()
def _evaluate(network: FlowTransformer, batches, flow_cfg, accelerator, seed: int) -> float:
    was_training = network.training
    network.eval()
    gen = torch.Generator(device=accelerator.device).manual_seed(step_seed(seed + 1, 0, 0))
    total = 0.0
    for raw in batches:
        with accelerator.autocast():
            loss, _ = flow_matching_loss(network, network.normalizer, _to_batch(raw, accelerator.device), flow_cfg, gen)
        total += float(loss)
    network.train(was_training)
    return total / len(batches)


def _save(accelerator, network: FlowTransformer, gen_cfg, out: Path, step: int, summary: dict, tc) -> Path:
    """Resumable state + inference checkpoint for ``step``; only complete folders count (trainer.json last)."""
    root = out / "checkpoints"
    final = root / f"step_{step:07d}"
    partial = root / f".step_{step:07d}.partial"
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_checkpoint(partial / "generator.safetensors", network, gen_cfg, {"training": summary})
        (partial / "trainer.json").write_text(json.dumps({"step": step}))
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        shutil.copyfile(final / "generator.safetensors", out / ".generator.tmp.safetensors")
        (out / ".generator.tmp.safetensors").replace(out / "generator.safetensors")
        kept = sorted(p for p in root.glob("step_*") if (p / "trainer.json").is_file())
        for old in kept[: max(0, len(kept) - max(1, tc.keep_checkpoints))]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final / "generator.safetensors"


def _tensorboard(out: Path, enabled: bool):
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.warning("tensorboard is not installed; logging to log.csv only (pip install tensorboard)")
        return None
    return SummaryWriter(str(out / "tensorboard"))
