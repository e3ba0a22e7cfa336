"""Rendering and export (SPEC §6): mesh sequence -> depth / normals / shaded / mask frames, the Wan 2.2
Fun-Control hand-off (fps, size, 4n+1 frames), mp4 with audio, animated GLB and OBJ sequences.

Core functions take plain arrays (vertices (T, V, 3) metres, faces (F, 3)), so they render any mesh;
:func:`flame_vertices` decodes a :class:`~x3dtalker_core.params.FlameSequence`. Nothing heavy is
imported here: OpenGL, PyAV and torch load on first use.
"""

from .camera import (
    PRESETS,
    Camera,
    CameraKey,
    Framing,
    camera_preset,
    keyframed_camera,
    look_at,
    orthographic_from_emoca,
    parse_keyframes,
)
from .images import DepthRange, composite, depth_to_image, image_to_depth, normals_to_image
from .mesh import SequenceMeshes, flame_vertices, vertex_normals
from .sequence import OUTPUTS, RenderCancelled, RenderedFrames, measure_depth_range, render_sequence

__all__ = [
    "OUTPUTS",
    "PRESETS",
    "Camera",
    "CameraKey",
    "DepthRange",
    "Framing",
    "RenderCancelled",
    "RenderedFrames",
    "camera_preset",
    "composite",
    "depth_to_image",
    "SequenceMeshes",
    "flame_vertices",
    "image_to_depth",
    "keyframed_camera",
    "look_at",
    "measure_depth_range",
    "normals_to_image",
    "orthographic_from_emoca",
    "parse_keyframes",
    "render_sequence",
    "vertex_normals",
]
