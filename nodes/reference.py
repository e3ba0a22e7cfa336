"""Reference nodes: photo -> FLAME, parameter file -> FLAME."""

from __future__ import annotations

from comfy_api.latest import io, ui

from . import comfy_hooks as hooks
from .logic import reference as logic
from .logic.files import file_fingerprint
from .types import CATEGORY, FlameModelType, FlameParamsType, FlameSequenceType


class ImageToFlame(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_ImageToFlame",
            display_name="Image to FLAME (reference)",
            category=f"{CATEGORY}/Reference",
            description="Fits FLAME shape, expression, pose and camera to the face in a portrait (paper §3.1). "
            "The overlay shows the fitted mesh and landmarks over the photo.",
            inputs=[
                io.Image.Input("image", tooltip="Portrait photo; only the first image of a batch is used."),
                FlameModelType.Input("flame_model", tooltip="From Load FLAME Model (needs its MediaPipe embedding)."),
                io.Combo.Input("backend", options=list(logic.BACKENDS), default="landmarks",
                               tooltip="landmarks: MediaPipe landmark fit (offline default). emoca: EMOCA v2 "
                               "encoders (weights in models/3dxtalker/emoca, supplied by you)."),
                io.Int.Input("face_index", default=0, min=0, max=16,
                             tooltip="Which face when the photo has several: 0 = the largest."),
            ],
            outputs=[
                FlameParamsType.Output(display_name="reference"),
                io.Image.Output(display_name="overlay"),
                io.Float.Output(display_name="confidence"),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, image, flame_model, backend: str = "landmarks", face_index: int = 0) -> io.NodeOutput:
        fit = logic.image_to_flame(image, flame_model, backend, face_index, progress=hooks.fraction_callback())
        return io.NodeOutput(fit.params, fit.overlay, fit.confidence,
                             ui=ui.PreviewText(hooks.show_status(cls, fit.summary)))


class LoadFlameParams(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_LoadFlameParams",
            display_name="Load FLAME Params",
            category=f"{CATEGORY}/Reference",
            description="Reads a parameter .npz (ours) or a 3DTalkingDataset sequence folder: one frame as the "
            "reference, and the whole clip as a sequence (to re-render or export it).",
            inputs=[
                io.String.Input("path", default="", tooltip="Path of a params.npz or a dataset sequence folder "
                                "(shapecode.npy, expcode.npy, posecode.npy, ...)."),
                io.Int.Input("frame", default=0, min=0, max=1_000_000, tooltip="Frame used as the reference."),
            ],
            outputs=[FlameParamsType.Output(display_name="reference"),
                     FlameSequenceType.Output(display_name="sequence")],
        )

    @classmethod
    def fingerprint_inputs(cls, path: str = "", frame: int = 0) -> str:
        from pathlib import Path

        p = Path(str(path).strip().strip('"')).expanduser()
        files = sorted(p.glob("*.npy")) if p.is_dir() else [p]
        return "|".join(file_fingerprint(f) for f in files) + f"#{frame}"

    @classmethod
    def execute(cls, path: str, frame: int = 0) -> io.NodeOutput:
        reference, sequence = logic.load_params(path, frame)
        return io.NodeOutput(reference, sequence)


NODES = [ImageToFlame, LoadFlameParams]
