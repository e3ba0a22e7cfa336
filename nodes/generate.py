"""Generator nodes: load a checkpoint, generate a FLAME sequence."""

from __future__ import annotations

from comfy_api.latest import io, ui

from . import comfy_hooks as hooks
from .logic import generate as logic
from .logic.files import file_fingerprint
from .types import (CATEGORY, AudioFeaturesType, EmotionControlType, FlameModelType, FlameParamsType,
                    FlameSequenceType, GeneratorType, PoseTrajectoryType)


AUTO = logic.AUTO


def checkpoint_files() -> list[str]:
    """``auto`` and every generator checkpoint in the registered ``3dxtalker`` folders, the default first.

    The pack's bundled bootstrap is among them, so a fresh install has a working choice; encoder weights
    and other ``.safetensors`` files in those folders are left out (their headers are not generators').
    """
    return [AUTO, *logic.checkpoint_names()]


class LoadGenerator(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_LoadGenerator",
            display_name="Load 3DXTalker Generator",
            category=f"{CATEGORY}/Generate",
            description="Loads a flow-matching generator checkpoint (.safetensors + config) from models/3dxtalker. "
            "It waits on ComfyUI's offload device and moves to the compute device only while generating.",
            inputs=[
                io.Combo.Input("checkpoint", options=checkpoint_files(), default=AUTO,
                               tooltip="Generator checkpoint in models/3dxtalker. 'auto' takes the best installed: "
                               "a trained one (generator.safetensors from `train`, or any other) before the bootstrap "
                               "bundled with the pack."),
                io.Combo.Input("dtype", options=list(logic.DTYPES), default="float32",
                               tooltip="Weights precision; bfloat16/float16 halve memory on a GPU."),
            ],
            outputs=[GeneratorType.Output(display_name="generator")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def fingerprint_inputs(cls, checkpoint: str = AUTO, dtype: str = "float32") -> str:
        try:
            return file_fingerprint(logic.checkpoint_path(checkpoint)) + f"#{dtype}"
        except Exception:
            return f"{checkpoint}#{dtype}"

    @classmethod
    def execute(cls, checkpoint: str = AUTO, dtype: str = "float32") -> io.NodeOutput:
        path = logic.checkpoint_path(checkpoint)
        gen = logic.load_generator_file(path, dtype, device=hooks.offload_device())
        status = logic.describe_generator(gen, path, chosen=checkpoint)
        hooks.show_status(cls, status)
        return io.NodeOutput(gen, ui=ui.PreviewText(status))


class Generate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_Generate",
            display_name="Generate Talking Head (FLAME)",
            category=f"{CATEGORY}/Generate",
            description="Reference + audio features -> FLAME parameters per frame at 25 fps (paper §3.2), with "
            "optional emotion and head-pose control (§3.3). Long audio runs in cross-faded windows.",
            inputs=[
                GeneratorType.Input("generator", tooltip="From Load 3DXTalker Generator."),
                FlameParamsType.Input("reference", tooltip="Identity frame p_ref (Image to FLAME or Load FLAME Params)."),
                AudioFeaturesType.Input("features", tooltip="From Audio-rich Encode (same encoders as the checkpoint)."),
                io.Int.Input("steps", default=32, min=1, max=256, tooltip="ODE steps (paper: 32)."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, control_after_generate=True,
                             tooltip="Seeds the initial noise; same seed, device and dtype -> same motion."),
                io.Combo.Input("solver", options=list(logic.SOLVERS), default="euler",
                               tooltip="euler (paper) or heun (2 network calls per step, smoother)."),
                io.Int.Input("smooth_window", default=7, min=0, max=51,
                             tooltip="Savitzky-Golay window in frames (an even one is rounded up to odd); 0 or 1 = no smoothing."),
                io.Int.Input("smooth_order", default=2, min=0, max=5,
                             tooltip="Savitzky-Golay polynomial order (< window)."),
                EmotionControlType.Input("emotion", optional=True,
                                         tooltip="Emotion template or keyframes applied to the reference expression."),
                PoseTrajectoryType.Input("head_pose", optional=True,
                                         tooltip="Head-pose curves superimposed on the predicted head motion."),
                FlameModelType.Input("flame_model", optional=True,
                                     tooltip="The FLAME model the sequence will be rendered with (Load FLAME Model): "
                                     "the motion is put into its expression space, as the generate command does. "
                                     "Without it the checkpoint's own expression space is kept."),
            ],
            outputs=[FlameSequenceType.Output(display_name="sequence")],
        )

    @classmethod
    def execute(cls, generator, reference, features, steps: int = 32, seed: int = 0, solver: str = "euler",
                smooth_window: int = 7, smooth_order: int = 2, emotion=None, head_pose=None,
                flame_model=None) -> io.NodeOutput:
        seq = logic.generate_motion(
            generator, reference, features, steps, seed, solver, smooth_window, smooth_order, emotion, head_pose,
            device=hooks.compute_device(), progress=hooks.progress_callback(steps), cancel=hooks.check_interrupt,
            flame_model=flame_model,
        )
        hooks.free_cache()
        return io.NodeOutput(seq, ui=ui.PreviewText(f"{seq.num_frames} frames at {seq.fps:g} fps, seed {seed}"))


NODES = [LoadGenerator, Generate]
