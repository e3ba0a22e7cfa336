"""Training the flow-matching generator: dataset (3DTalkingDataset layout), statistics, trainer (accelerate).

Names are imported on first use (see :mod:`x3dtalker_core.model`), so the command line loads without torch.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "RunConfig": ".config", "TrainConfig": ".config", "load_run_config": ".config", "run_preset": ".config",
    "compute_stats": ".stats",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
