"""Exports for other tools: ARKit-52 tracks (Live Link Face CSV, Audio2Face and LAM JSON) and rigged GLB."""

from .files import FILE_NAMES, FORMATS, ExportOptions, export_files

__all__ = ["FILE_NAMES", "FORMATS", "ExportOptions", "export_files"]
