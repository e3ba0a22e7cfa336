"""FLAME head model in pure PyTorch: safe loaders, LBS forward, landmarks and region masks."""

from .data import FlameData, flame_data_from_arrays, load_flame_data, read_flame_arrays
from .landmarks import Deca68Embedding, LandmarkEmbedding, load_deca68_embedding, load_mediapipe_embedding
from .masks import UPPER_FACE_REGIONS, load_masks, region
from .model import FlameModel, load_flame_model, vertices_for_sequence

__all__ = [
    "Deca68Embedding",
    "FlameData",
    "FlameModel",
    "LandmarkEmbedding",
    "UPPER_FACE_REGIONS",
    "flame_data_from_arrays",
    "load_deca68_embedding",
    "load_flame_data",
    "load_flame_model",
    "load_masks",
    "load_mediapipe_embedding",
    "read_flame_arrays",
    "region",
    "vertices_for_sequence",
]
