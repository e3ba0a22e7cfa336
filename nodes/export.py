"""Export node: ARKit-52 takes (Live Link Face CSV, Audio2Face / LAM JSON) and the rigged GLB."""

from __future__ import annotations

from comfy_api.latest import io

from ..x3dtalker_core.export import FORMATS, ExportOptions, export_files
from .logic.files import next_output_path
from .types import CATEGORY, FlameModelType, FlameSequenceType

_SUFFIX = {"livelink": ".csv", "a2f": ".json", "lam": ".json", "glb": ".glb"}
_FORMAT_TIP = ("livelink: Live Link Face CSV (the iPhone app's take file, for Unreal/MetaHuman and Blender Faceit); "
               "a2f: Audio2Face blendshape JSON; lam: LAM-style {names, values} ARKit JSON; glb: rigged animated GLB "
               "(FLAME joints + named expression morph targets) for Blender, three.js and Preview 3D.")


def _output_dir() -> str:
    import folder_paths

    return folder_paths.get_output_directory()


class ExportARKit(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_ExportARKit",
            display_name="Export ARKit / Live Link / Rigged GLB",
            category=f"{CATEGORY}/Export",
            description="Writes the motion for other tools into the output folder: ARKit-52 weights (solved from "
            "FLAME, or passed through when the checkpoint speaks ARKit) as a Live Link Face CSV, Audio2Face JSON or "
            "LAM JSON, or a rigged GLB. Connect 'file' to core Preview 3D (Animation) for a GLB.",
            inputs=[
                FlameSequenceType.Input("sequence", tooltip="From Generate (or Load FLAME Params)."),
                FlameModelType.Input("flame_model", tooltip="From Load FLAME Model: the model the motion was made for."),
                io.Combo.Input("format", options=list(FORMATS), default="livelink", tooltip=_FORMAT_TIP),
                io.Combo.Input("livelink_fps", options=["60", "30"], default="60",
                               tooltip="Live Link Face take rate (the app records at 60 fps, 30 optional)."),
                io.Boolean.Input("app_mouth_mirroring", default=True,
                                 tooltip="Write mouthLeft under MouthRight and vice versa, as the iPhone app does "
                                 "(importers made for app takes expect it). Off: every weight under its own name."),
                io.Combo.Input("glb_mode", options=["rigged", "exact"], default="rigged",
                               tooltip="rigged: skin + named morph targets, small at any length; exact: every "
                               "frame's vertices (large, grows with length)."),
                io.String.Input("filename_prefix", default="3dxtalker/take",
                                tooltip="Output sub-folder and file name start."),
            ],
            outputs=[io.String.Output(display_name="file")],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, sequence, flame_model, format: str = "livelink", livelink_fps: str = "60",  # noqa: A002
                app_mouth_mirroring: bool = True, glb_mode: str = "rigged",
                filename_prefix: str = "3dxtalker/take") -> io.NodeOutput:
        path, rel = next_output_path(_output_dir(), filename_prefix, _SUFFIX[format])
        options = ExportOptions(livelink_fps=int(livelink_fps), app_mouth_mirroring=app_mouth_mirroring,
                                glb_mode=glb_mode)
        report = export_files(sequence, flame_model, path.parent, (format,), options, names={format: path.name})
        lines = [rel]
        if report["arkit"] is not None:
            solve = report["arkit"]["solve"]
            lines.append(f"ARKit from {report['arkit']['expression_space']}: reconstruction "
                         f"{solve['rmse_mm_mean']:.2f} mm RMS (max {solve['max_mm_max']:.1f} mm)")
        sub, _, name = rel.rpartition("/")
        return io.NodeOutput(rel, ui={"text": lines, "files": [{"filename": name, "subfolder": sub, "type": "output"}]})


NODES = [ExportARKit]
