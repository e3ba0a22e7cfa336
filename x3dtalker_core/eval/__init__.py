"""Evaluation (paper §4, SPEC §7): vertex metrics in mm, beat alignment, jaw-envelope r, mouth closure.

Two modes: ``spec`` (SPEC §7 definitions, millimetres) and ``authors`` (the 3DXTalker evaluation
code as committed, quirks included; REFERENCE-NOTES §8). See :mod:`.metrics` for the definitions.
"""

from . import metrics
from .evaluate import ClipInput, Scorer, markdown_table, summarize

__all__ = ["ClipInput", "Scorer", "markdown_table", "metrics", "summarize"]
