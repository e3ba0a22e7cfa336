"""Lifting talking videos into FLAME sequence folders (EMOCA or the landmark fitter per frame).
``python -m x3dtalker_core lift --videos DIR --out DIR``."""

from .pipeline import (
           BACKENDS,
           FrameTrack,
           LiftConfig,
           LiftSummary,
           assemble_sequence,
           fill_missing,
           lift,
           lift_video,
           smooth_track,
           track_frames,
)

__all__ = ["BACKENDS", "FrameTrack", "LiftConfig", "LiftSummary", "assemble_sequence", "fill_missing", "lift",
           "lift_video", "smooth_track", "track_frames"]
