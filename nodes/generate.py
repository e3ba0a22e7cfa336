"""Generator nodes: load a checkpoint, generate a FLAME sequence."""

from __future__ import annotations

from comfy_api.latest import io, ui

from . import comfy_hooks as hooks
from .logic import generate as logic
from .logic.files import file_fingerprint
from .types import (CATEGORY, AudioFeaturesType, EmotionControlType, FlameParamsType, FlameSequenceType,
                    GeneratorType, PoseTrajectoryType)


def checkpoint_files() -> list[str]:
    """``*.safetensors`` in the registered ``3dxtalker`` folders (sub-folders included)."""
    import folder_paths

    try:
        names = folder_paths.get_filename_list("3dxtalker")
    except KeyError:
        return []
    return [n for n in names if n.lower().endswith(".safetensors")]


def _checkpoint_path(name: str) -> str:
    import folder_paths

    from ..x3dtalker_core.errors import X3DError

    path = folder_paths.get_full_path("3dxtalker", name)
    if path is None:
        raise X3DError(f"generator checkpoint '{name}' is not in models/3dxtalker; put the .safetensors file there "
                       "(or train one: python -m x3dtalker_core train)")
    return path


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
                io.Combo.Input("checkpoint", options=checkpoint_files(),
                               tooltip="Generator checkpoint in models/3dxtalker."),
                io.Combo.Input("dtype", options=list(logic.DTYPES), default="float32",
                               tooltip="Weights precision; bfloat16/float16 halve memory on a GPU."),
            ],
            outputs=[GeneratorType.Output(display_name="generator")],
        )

    @classmethod
    def fingerprint_inputs(cls, checkpoint: str, dtype: str = "float32") -> str:
        try:
            return file_fingerprint(_checkpoint_path(checkpoint)) + f"#{dtype}"
        except Exception:
            return f"{checkpoint}#{dtype}"

    @classmethod
    def execute(cls, checkpoint: str, dtype: str = "float32") -> io.NodeOutput:
        gen = logic.load_generator_file(_checkpoint_path(checkpoint), dtype, device=hooks.offload_device())
        m = gen.config.model
        return io.NodeOutput(gen, ui=ui.PreviewText(
            f"{gen.name}: {m.linguistic_encoder}+{m.emotion_encoder} features, window {gen.config.window}"))


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
                             tooltip="Savitzky-Golay window in frames (odd); 0 or 1 = no smoothing."),
                io.Int.Input("smooth_order", default=2, min=0, max=5,
                             tooltip="Savitzky-Golay polynomial order (< window)."),
                EmotionControlType.Input("emotion", optional=True,
                                         tooltip="Emotion template or keyframes applied to the reference expression."),
                PoseTrajectoryType.Input("head_pose", optional=True,
                                         tooltip="Head-pose curves superimposed on the predicted head motion."),
            ],
            outputs=[FlameSequenceType.Output(display_name="sequence")],
        )

    @classmethod
    def execute(cls, generator, reference, features, steps: int = 32, seed: int = 0, solver: str = "euler",
                smooth_window: int = 7, smooth_order: int = 2, emotion=None, head_pose=None) -> io.NodeOutput:
        seq = logic.generate_motion(
            generator, reference, features, steps, seed, solver, smooth_window, smooth_order, emotion, head_pose,
            device=hooks.compute_device(), progress=hooks.progress_callback(steps), cancel=hooks.check_interrupt,
        )
        hooks.free_cache()
        return io.NodeOutput(seq, ui=ui.PreviewText(f"{seq.num_frames} frames at {seq.fps:g} fps, seed {seed}"))


NODES = [LoadGenerator, Generate]
