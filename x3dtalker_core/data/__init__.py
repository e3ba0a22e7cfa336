"""Datasets on disk: the 3DTalkingDataset sequence-folder layout and the tools that write it."""

from .layout import list_sequence_dirs, read_sequence_dir, write_sequence_dir

__all__ = ["list_sequence_dirs", "read_sequence_dir", "write_sequence_dir"]
