"""Curation of talking-video collections (paper §3.1, Appendix B.1): duration (and stitching), SNR,
language (Whisper), audio-visual sync (SyncNet) filters and resolution/fps/audio normalisation, with
a manifest, resume and sharding. ``python -m x3dtalker_core curate --videos DIR --out DIR``.
"""

from .manifest import Manifest, Shard, parse_shard
from .pipeline import FILTERS, CurateConfig, CurateSummary, curate, process_unit
from .snr import estimate_snr_db
from .units import Unit, pack_group, plan_units

__all__ = ["FILTERS", "CurateConfig", "CurateSummary", "Manifest", "Shard", "Unit", "curate", "estimate_snr_db",
           "pack_group", "parse_shard", "plan_units", "process_unit"]
