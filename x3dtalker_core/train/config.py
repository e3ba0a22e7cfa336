"""Training run configuration: generator config + optimisation/data settings, YAML in and out.

A YAML file may start from a preset and override any field::

    preset: small            # paper | improved | small (default paper)
    window: 100              # training crop length (frames); also the inference window
    model: {hidden: 192}
    flow: {anchors: fixed}
    train: {batch_size: 32, max_steps: 3000, repeats: {HDTF: 4}}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import X3DError
from ..model.config import GeneratorConfig, _build, preset


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and data settings (paper App. B.2; authors' values in REFERENCE-NOTES §3.3).

    Attributes:
        batch_size: crops per process per step (authors 128 per GPU).
        lr: OneCycleLR peak learning rate (paper 1e-4).
        weight_decay: AdamW weight decay (paper 0.01).
        max_steps: optimiser steps in the whole run (authors ~5000).
        pct_start: OneCycle warm-up fraction (authors 0, i.e. no warm-up).
        div_factor, final_div_factor: OneCycle start/end ratios (torch defaults).
        grad_clip: global gradient-norm clip (authors 1.0; 0 disables).
        precision: ``no`` (fp32), ``bf16`` or ``fp16`` autocast; targets are always built in fp32.
        seed: seeds crops, time steps, noise and initialisation.
        log_every, eval_every, save_every: in optimiser steps (0 disables eval/save).
        keep_checkpoints: resumable step folders kept (older ones are deleted).
        eval_batches: batches of the fixed evaluation set.
        val_fraction: fraction of clips held out for evaluation (0: evaluate on fixed training crops).
        repeats: per-dataset repeat factor by dataset folder name (authors: HDTF x4).
        num_workers: data-loading worker processes per training process.
        linguistic, emotion: audio encoder names used to precompute features.
        stats: ``data`` (Welford over the training clips) or a path to a statistics npz (e.g. the
            authors' ``3dtalkingdataset_mean_std.npz``).
        tensorboard: also log to TensorBoard (needs the ``tensorboard`` package); CSV is always written.
        init: generator checkpoint to fine-tune: its weights and normalisation statistics start the
            run (the architecture and encoders must match); optimiser and schedule start fresh.
        reference_lips_apart: share of crops whose reference frame has its lip seal (ARKit
            ``mouthClose``) drawn uniformly between 0 and its value, as in portraits with the lips
            relaxed apart; the target delta is taken from that reference, so the network learns to add
            the closure its reference lacks. Only for data whose expression space is ``arkit``.
    """

    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 0.01
    max_steps: int = 5000
    pct_start: float = 0.05
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    grad_clip: float = 1.0
    precision: str = "no"
    seed: int = 1234
    log_every: int = 10
    eval_every: int = 250
    save_every: int = 500
    keep_checkpoints: int = 3
    eval_batches: int = 2
    val_fraction: float = 0.0
    repeats: dict[str, int] = field(default_factory=dict)
    num_workers: int = 2
    linguistic: str = "mel"
    emotion: str = "prosody"
    stats: str = "data"
    tensorboard: bool = False
    init: str = ""
    reference_lips_apart: float = 0.0

    def __post_init__(self) -> None:
        if self.precision not in ("no", "bf16", "fp16"):
            raise X3DError(f"train.precision must be no, bf16 or fp16, got {self.precision!r}")
        for name in ("batch_size", "max_steps", "log_every"):
            if getattr(self, name) < 1:
                raise X3DError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.pct_start < 1.0:
            raise X3DError(f"train.pct_start must be in [0, 1), got {self.pct_start}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise X3DError(f"train.val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.reference_lips_apart <= 1.0:
            raise X3DError(f"train.reference_lips_apart must be in [0, 1], got {self.reference_lips_apart}")
        if any(int(v) < 1 for v in self.repeats.values()):
            raise X3DError(f"train.repeats factors must be >= 1, got {self.repeats}")


@dataclass(frozen=True)
class RunConfig:
    """Generator architecture/flow/window + training settings, as one YAML document."""

    generator: GeneratorConfig = field(default_factory=lambda: preset("paper"))
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "paper"

    def to_dict(self) -> dict[str, Any]:
        g = self.generator.to_dict()
        return {"preset": self.preset, "window": g["window"], "expression_space": g["expression_space"],
                "model": g["model"], "flow": g["flow"], "train": dataclasses.asdict(self.train)}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_train(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, train=dataclasses.replace(self.train, **changes))


TRAIN_PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(),
    "improved": TrainConfig(),
    # Minutes on a laptop CPU: small crops, small batch, higher learning rate.
    "small": TrainConfig(batch_size=16, lr=1e-3, max_steps=2000, log_every=10, eval_every=200, save_every=500,
                         num_workers=0),
}


def run_preset(name: str) -> RunConfig:
    if name not in TRAIN_PRESETS:
        raise X3DError(f"unknown preset {name!r}; choose one of {', '.join(TRAIN_PRESETS)}")
    return RunConfig(generator=preset(name), train=TRAIN_PRESETS[name], preset=name)


def run_config_from_dict(data: dict[str, Any]) -> RunConfig:
    """Preset + overrides (see module doc); unknown keys are named in the error."""
    if not isinstance(data, dict):
        raise X3DError("a training config must be a YAML mapping")
    data = dict(data)
    name = data.pop("preset", "paper")
    base = run_preset(name)
    unknown = sorted(set(data) - {"window", "model", "flow", "train", "expression_space"})
    if unknown:
        raise X3DError(f"unknown top-level config key(s) {unknown}; known: preset, window, model, flow, train, "
                       "expression_space")
    g = base.generator.to_dict()
    for section in ("model", "flow"):
        overrides = data.get(section) or {}
        if not isinstance(overrides, dict):
            raise X3DError(f"config section '{section}' must be a mapping")
        g[section] = {**g[section], **overrides}
    if "window" in data:
        g["window"] = int(data["window"])
    if "expression_space" in data:  # what the data's expression channels speak (flame/arkit.py)
        g["expression_space"] = str(data["expression_space"])
    generator = GeneratorConfig.from_dict(g)
    train_over = data.get("train") or {}
    train = _build(TrainConfig, {**dataclasses.asdict(base.train), **train_over}, "train")
    return RunConfig(generator=generator, train=train, preset=name)


def load_run_config(spec: str | Path) -> RunConfig:
    """A preset name (``paper``, ``improved``, ``small``) or a YAML file path."""
    spec = str(spec)
    if spec in TRAIN_PRESETS:
        return run_preset(spec)
    path = Path(spec)
    if not path.is_file():
        raise X3DError(f"config {spec!r} is neither a preset ({', '.join(TRAIN_PRESETS)}) nor an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise X3DError(f"cannot parse {path}: {exc}") from None
    return run_config_from_dict(data)


def apply_overrides(config: RunConfig, assignments: list[str]) -> RunConfig:
    """Apply ``section.key=value`` strings (value parsed as YAML), e.g. ``train.max_steps=10``."""
    data = config.to_dict()
    for item in assignments:
        if "=" not in item:
            raise X3DError(f"--set expects section.key=value, got {item!r}")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        target = data
        for p in parts[:-1]:
            if not isinstance(target.get(p), dict):
                raise X3DError(f"--set {key}: '{p}' is not a config section")
            target = target[p]
        target[parts[-1]] = yaml.safe_load(value)
    return run_config_from_dict(data)
