"""Reference image -> FLAME parameters (SPEC §4): detector, landmark fitter, EMOCA, parameter files.

Names are imported on first use, so the command line loads without torch.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {
    "BACKENDS": ".api", "EmocaReconstructor": ".api", "LandmarkReconstructor": ".api",
    "ReconstructionResult": ".api", "load_reference_params": ".api", "reconstruct_reference": ".api",
    "FitSettings": ".fitter", "LandmarkFit": ".fitter", "SurfacePointModel": ".fitter", "emoca_crop": ".fitter",
    "fit_landmarks": ".fitter",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
