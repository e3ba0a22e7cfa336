"""Reference image -> FLAME parameters (SPEC §4): detector, landmark fitter, EMOCA, parameter files."""

from .api import (
    BACKENDS,
    EmocaReconstructor,
    LandmarkReconstructor,
    ReconstructionResult,
    load_reference_params,
    reconstruct_reference,
)
from .fitter import FitSettings, LandmarkFit, SurfacePointModel, emoca_crop, fit_landmarks

__all__ = [
    "BACKENDS",
    "EmocaReconstructor",
    "FitSettings",
    "LandmarkFit",
    "LandmarkReconstructor",
    "ReconstructionResult",
    "SurfacePointModel",
    "emoca_crop",
    "fit_landmarks",
    "load_reference_params",
    "reconstruct_reference",
]
