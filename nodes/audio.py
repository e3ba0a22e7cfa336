"""Audio-rich encoding node."""

from __future__ import annotations

from comfy_api.latest import io, ui

from . import comfy_hooks as hooks
from .logic import audio as logic
from .types import CATEGORY, AudioFeaturesType


class AudioEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="X3DTalker_AudioEncode",
            display_name="Audio-rich Encode",
            category=f"{CATEGORY}/Audio",
            description="Speech -> per-frame linguistic, amplitude and emotion features at 25 fps (paper §3.2). "
            "Use the encoders the generator was trained with.",
            inputs=[
                io.Audio.Input("audio", tooltip="Driving speech (any rate, mixed to 16 kHz mono)."),
                io.Combo.Input("linguistic", options=list(logic.LINGUISTIC_CHOICES), default="ppg",
                               tooltip="ppg: phoneme posteriors from hama's recogniser (offline default, weaker than "
                               "the paper's WavLM; the bundled checkpoint uses it). mel: 80-band log-mel (offline, "
                               "older checkpoints). wavlm: WavLM base+ (the paper's; folder "
                               "models/3dxtalker/wavlm-base-plus)."),
                io.Combo.Input("emotion", options=list(logic.EMOTION_CHOICES), default="prosody",
                               tooltip="prosody: pitch/energy/spectral features (offline default, weaker). "
                               "emotion2vec: emotion2vec_plus_base (the paper's; needs funasr)."),
                io.String.Input("linguistic_model", default="", optional=True,
                                tooltip="Folder of the WavLM model; empty = the registered asset."),
                io.String.Input("emotion_model", default="", optional=True,
                                tooltip="Folder of the emotion2vec model; empty = the registered asset."),
            ],
            outputs=[AudioFeaturesType.Output(display_name="features")],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, audio, linguistic: str = "ppg", emotion: str = "prosody", linguistic_model: str = "",
                emotion_model: str = "") -> io.NodeOutput:
        feats = logic.encode_audio(audio, linguistic, emotion, linguistic_model or "", emotion_model or "",
                                   device=hooks.compute_device(), progress=hooks.progress_callback(),
                                   cancel=hooks.check_interrupt)
        text = f"{feats.num_frames} frames ({feats.num_frames / feats.fps:.2f} s), {linguistic}+{emotion}"
        return io.NodeOutput(feats, ui=ui.PreviewText(hooks.show_status(cls, text)))


NODES = [AudioEncode]
