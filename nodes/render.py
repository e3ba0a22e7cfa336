"""Render, Wan 2.2 Fun-Control hand-off, export and preview nodes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from comfy_api.latest import io, ui

from . import comfy_hooks as hooks
from .logic import render as logic
from .logic.audio import audio_dict
from .logic.files import next_output_path
from .logic.render import GLB_MODES
from .types import CATEGORY, FlameModelType, FlameSequenceType

_CAMERA_TIP = ("auto: 'photo' when the motion came from a photo, else 'fitted', else 'static'. photo: lines up "
               "with the whole reference photo (what Wan's ref_image needs); fitted: the photo's face-crop camera; "
               "static, orbit (slow swing), dolly (moves in), pan (slides across).")


def _output_dir() -> str:
    import folder_paths

    return folder_paths.get_output_directory()


def _temp_dir() -> Path:
    import folder_paths

    return Path(folder_paths.get_temp_directory())


def _temp_render_folder() -> Path:
    """A new folder under ComfyUI's temp directory (wiped when the server starts) for one Render's files."""
    import folder_paths

    root = Path(folder_paths.get_temp_directory()) / "3dxtalker"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="render_", dir=root))


def _video(path: Path | None):
    from comfy_api.latest import InputImpl

    return None if path is None else InputImpl.VideoFromFile(str(path))


class Render(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_Render",
            display_name="Render FLAME Sequence",
            category=f"{CATEGORY}/Render",
            description="Renders the shaded preview and the depth video (near = bright, one range per clip) as "
            "file-backed VIDEO outputs with the audio muxed, encoded while rendering, so minutes of motion use "
            "flat memory. Connect them to core Save Video. Normals and the face mask are optional videos.",
            inputs=[
                FlameSequenceType.Input("sequence", tooltip="From Generate (or Load FLAME Params)."),
                FlameModelType.Input("flame_model", tooltip="From Load FLAME Model."),
                io.Int.Input("width", default=512, min=16, max=4096, step=8, tooltip="Output width in pixels."),
                io.Int.Input("height", default=512, min=16, max=4096, step=8, tooltip="Output height in pixels."),
                io.Combo.Input("camera", options=list(logic.CAMERAS), default="auto", tooltip=_CAMERA_TIP),
                io.Audio.Input("audio", optional=True,
                               tooltip="Driving audio, muxed into every video (cut or padded to the motion)."),
                io.String.Input("background", default="#1a1a1a", optional=True,
                                tooltip="Shaded preview background, '#rrggbb' (depth/normals stay black)."),
                io.Boolean.Input("normals", default=False, optional=True,
                                 tooltip="Also render a camera-space normals video (the 'normals' output is "
                                 "empty when off)."),
                io.Boolean.Input("mask", default=False, optional=True,
                                 tooltip="Also render the face-mask video (the 'mask' output is empty when off)."),
            ],
            outputs=[
                io.Video.Output(display_name="preview"),
                io.Video.Output(display_name="depth"),
                io.Video.Output(display_name="normals"),
                io.Video.Output(display_name="mask"),
                io.Float.Output(display_name="fps"),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, sequence, flame_model, width: int = 512, height: int = 512, camera: str = "auto",
                audio=None, background: str = "#1a1a1a", normals: bool = False, mask: bool = False) -> io.NodeOutput:
        folder = _temp_render_folder()
        try:
            out = logic.render_videos(sequence, flame_model, folder, width, height, camera, background or "#1a1a1a",
                                      normals, mask, audio, progress=hooks.progress_callback(sequence.num_frames),
                                      cancel=hooks.check_interrupt)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        status = hooks.show_status(cls, f"{out.frames} frames at {out.fps:g} fps, {out.width}x{out.height}, "
                                        f"camera {out.camera}" + ("" if audio is not None else ", no audio"))
        preview = out.files["preview"]
        rel = preview.relative_to(_temp_dir()).as_posix()
        sub, _, name = rel.rpartition("/")
        return io.NodeOutput(
            _video(preview), _video(out.files["depth"]), _video(out.files.get("normals")),
            _video(out.files.get("mask")), out.fps,
            ui={"images": [{"filename": name, "subfolder": sub, "type": "temp"}], "animated": [True],
                "text": [status]})


class WanControlVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_WanControlVideo",
            display_name="FLAME to Wan 2.2 Fun-Control Video",
            category=f"{CATEGORY}/Render",
            description="Depth control video for core Wan22FunControlToVideo, one window at a time: the model's fps "
            "(14B: 16, 5B: 24), 4n+1 frames, size snapped to its multiple, and that window's stretch of the audio "
            "for Create Video. Wan 2.2 Fun-Control was trained on 81 frames: render a long clip as windows 0, 1, "
            "2, ... of 81 frames (the 'windows' output says how many) rather than one long window.",
            inputs=[
                FlameSequenceType.Input("sequence", tooltip="From Generate."),
                FlameModelType.Input("flame_model", tooltip="From Load FLAME Model."),
                io.Combo.Input("wan_model", options=list(logic.WAN_MODELS), default="14b",
                               tooltip="14b: 16 fps, multiples of 16 (template 640x640x81). "
                               "5b: 24 fps, multiples of 32 (template 704x704x121)."),
                io.Int.Input("width", default=640, min=32, max=2048, step=16, tooltip="Control video width."),
                io.Int.Input("height", default=640, min=32, max=2048, step=16, tooltip="Control video height."),
                io.Int.Input("length", default=81, min=1, max=4097, step=4,
                             tooltip="Frames per window (the 'length' of Wan22FunControlToVideo; snapped to 4n+1). "
                             "Wan 2.2 Fun-Control was trained on 81; much longer windows lose quality."),
                io.Int.Input("window", default=0, min=0, max=100000,
                             tooltip="Which window of the clip: window k starts at k x length / fps seconds, and "
                             "the audio output is that window's segment."),
                io.Combo.Input("camera", options=list(logic.CAMERAS), default="auto", tooltip=_CAMERA_TIP),
                io.Audio.Input("audio", optional=True, tooltip="Driving audio; the window's stretch is output."),
                io.Boolean.Input("trim", default=False, optional=True,
                                 tooltip="Cut the last window to the 4n+1 frames that carry motion instead of "
                                 "padding it to length by holding the last pose."),
            ],
            outputs=[
                io.Image.Output(display_name="control_video"),
                io.Image.Output(display_name="shaded"),
                io.Mask.Output(display_name="mask"),
                io.Audio.Output(display_name="audio"),
                io.Float.Output(display_name="fps"),
                io.Int.Output(display_name="length"),
                io.Int.Output(display_name="width"),
                io.Int.Output(display_name="height"),
                io.Int.Output(display_name="windows"),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, sequence, flame_model, wan_model: str = "14b", width: int = 640, height: int = 640,
                length: int = 81, window: int = 0, camera: str = "auto", audio=None,
                trim: bool = False) -> io.NodeOutput:
        clip = logic.render_for_wan(sequence, flame_model, wan_model, width, height, length, camera, audio, trim,
                                    window, progress=hooks.progress_callback(), cancel=hooks.check_interrupt)
        silent = audio_dict(np.zeros(round(clip.num_frames / clip.fps * 16000), np.float32))
        text = (f"window {clip.window + 1} of {clip.windows} (from {clip.start_s:.2f} s): {clip.num_frames} frames at "
                f"{clip.fps:g} fps ({clip.motion_frames} with motion), {clip.width}x{clip.height}")
        warning = logic.wan_length_warning(length)
        if warning:
            text += "\n" + warning
        hooks.show_status(cls, text)
        return io.NodeOutput(clip.depth, clip.shaded, clip.mask, clip.audio or silent, clip.fps, clip.num_frames,
                             clip.width, clip.height, clip.windows, ui=ui.PreviewText(text))


class ExportGLB(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_ExportGLB",
            display_name="Export Animated GLB",
            category=f"{CATEGORY}/Export",
            description="Writes the animation as a GLB into the output folder: by default rigged (FLAME's neck, "
            "jaw and eye joints plus named expression morph targets; a few MB whatever the clip length, opens in "
            "Blender/Unreal), or with every frame's exact mesh. Connect 'model_file' to core Preview 3D (Animation) "
            "to play it inside ComfyUI.",
            inputs=[
                FlameSequenceType.Input("sequence", tooltip="From Generate (or Load FLAME Params)."),
                FlameModelType.Input("flame_model", tooltip="From Load FLAME Model."),
                io.String.Input("filename_prefix", default="3dxtalker/mesh",
                                tooltip="Output sub-folder and file name start."),
                io.Combo.Input("mode", options=list(GLB_MODES), default="rigged", optional=True,
                               tooltip="rigged: skin + named expression morph targets, size nearly constant in "
                               "clip length. exact: every frame's decoded mesh (memory and size grow with the clip; "
                               "for short clips)."),
            ],
            outputs=[io.String.Output(display_name="model_file")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, sequence, flame_model, filename_prefix: str = "3dxtalker/mesh",
                mode: str = "rigged") -> io.NodeOutput:
        path, rel = next_output_path(_output_dir(), filename_prefix, ".glb")
        logic.export_glb_file(sequence, flame_model, path, mode, progress=hooks.progress_callback(),
                              cancel=hooks.check_interrupt)
        sub, _, name = rel.rpartition("/")
        return io.NodeOutput(rel, ui={"text": [rel], "files": [{"filename": name, "subfolder": sub, "type": "output"}]})


class SaveParams(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_SaveParams",
            display_name="Save FLAME Params",
            category=f"{CATEGORY}/Export",
            description="Writes the sequence as .npz (T x 284 + cam + fps + metadata) into the output folder.",
            inputs=[
                FlameSequenceType.Input("sequence", tooltip="From Generate."),
                io.String.Input("filename_prefix", default="3dxtalker/params",
                                tooltip="Output sub-folder and file name start."),
            ],
            outputs=[io.String.Output(display_name="path")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, sequence, filename_prefix: str = "3dxtalker/params") -> io.NodeOutput:
        path, rel = next_output_path(_output_dir(), filename_prefix, ".npz")
        logic.save_params_file(sequence, path)
        sub, _, name = rel.rpartition("/")
        return io.NodeOutput(str(path), ui={"text": [rel], "files": [{"filename": name, "subfolder": sub,
                                                                       "type": "output"}]})


class MotionCurves(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_MotionCurves",
            display_name="Preview Motion Curves",
            category=f"{CATEGORY}/Preview",
            description="Shows jaw opening and head pitch/yaw/roll over time in the node (interactive curve view).",
            inputs=[FlameSequenceType.Input("sequence", tooltip="From Generate (or Load FLAME Params).")],
            outputs=[],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, sequence) -> io.NodeOutput:
        return io.NodeOutput(ui={"x3d_curves": [logic.motion_curves(sequence)]})


NODES = [Render, WanControlVideo, ExportGLB, SaveParams, MotionCurves]
