"""Training the flow-matching generator: dataset (3DTalkingDataset layout), statistics, trainer (accelerate)."""

from .config import RunConfig, TrainConfig, load_run_config, run_preset
from .stats import compute_stats

__all__ = ["RunConfig", "TrainConfig", "compute_stats", "load_run_config", "run_preset"]
