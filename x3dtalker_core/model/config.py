"""Generator configuration: architecture (:class:`ModelConfig`) and flow matching (:class:`FlowConfig`).

Presets (paper §4 / Appendix B.2 size: 6 backbone blocks, hidden 768, 12 heads, 2 blocks per head):

* ``paper``: the paper's architecture as the authors' code builds it (REFERENCE-NOTES §2): PixArt
  adaLN-single blocks with random gates, raw un-normalised cross-attention queries, the 640-sample
  envelope CNN, raw linguistic features, LayerNorm'd emotion features, the absolute reference, the
  identity head's double self-attention, output dropout 0.1;
* ``improved``: same size with the project's changes (the :class:`ModelConfig` field defaults);
* ``small``: the improved design sized to train and sample quickly on a CPU (the bundled checkpoint).

Every value is a plain dataclass field, so configs round-trip through YAML (training) and JSON
(checkpoints); keys that older checkpoints lack are read with the values those checkpoints were
trained with (:data:`LEGACY_MODEL_VALUES`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import X3DError


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the flow-matching transformer (SPEC §3). Defaults: the ``improved`` preset.

    Attributes:
        hidden: token width D (paper 768).
        heads: attention heads (paper 12, head dim 64).
        backbone_blocks: shared DiT blocks (paper 6).
        identity_blocks, pose_blocks, expression_blocks: blocks per head (paper 2 each; the
            authors' code used 1 for the identity head).
        ff_mult: feed-forward inner width as a multiple of D (GEGLU).
        dropout: dropout on attention and feed-forward outputs (authors 0.1).
        output_dropout: dropout on the predicted velocity itself (authors 0.1, a bug: it perturbs the
            regression output; default 0).
        adaln_zero: zero-initialise the modulation table, the timestep MLP's last layer and the output
            layers: the gated self-attention and feed-forward branches start switched off and the
            velocity starts at zero; cross-attention is ungated, so blocks do not start as the
            identity (SPEC §3 adaLN-zero; the authors' PixArt blocks: random table).
        velocity_skip: add a per-channel, timestep-dependent linear skip from x_t to the velocity
            (our addition; lets narrow models invert the 284-channel noise; False = authors' layout).
        cross_attention_bias: ALiBi-style distance bias on cross-attention to the frame-aligned audio
            features (our addition; False = authors' unbiased cross-attention).
        cross_attention_positions: cross-attention query = LayerNorm(x) + positions and keys =
            context + positions (ours); False = authors' raw residual query, keys = values = context.
        feature_projection: linguistic and emotion features pass an MLP to width D before
            cross-attention (ours); False = authors' raw linguistic features and LayerNorm'd emotion
            features as keys/values (the attention projects them from their own width).
        amplitude_input: ``frame`` (ours: one per-clip normalised value per frame, paper §3.2, into a
            GELU dilated-conv stack) or ``envelope`` (authors: each frame's 640 raw envelope samples as
            the channels of a BatchNorm/ReLU dilated-conv stack + average pooling).
        reference_normalization: the reference frame is normalised by absolute-frame statistics
            before its projection (ours); False = authors' absolute, un-normalised reference.
        identity_double_attention: identity-head blocks have a second self-attention on the residual
            stream in the cross-attention slot (authors' ``double_self_attention``).
        output_norm: LayerNorm before each output MLP (ours; authors: none).
        timestep_dim: sinusoidal width of the timestep embedding before its MLP.
        amplitude_kernel: kernel of the three dilated temporal convolutions that embed the amplitude
            (dilations 1, 2, 4).
        linguistic_encoder, emotion_encoder: names of the audio encoders the model is trained on.
        linguistic_dim, emotion_dim: their feature widths (filled from the data at training time).
    """

    hidden: int = 768
    heads: int = 12
    backbone_blocks: int = 6
    identity_blocks: int = 2
    pose_blocks: int = 2
    expression_blocks: int = 2
    ff_mult: int = 4
    dropout: float = 0.1
    output_dropout: float = 0.0
    adaln_zero: bool = True
    velocity_skip: bool = True
    cross_attention_bias: bool = True
    cross_attention_positions: bool = True
    feature_projection: bool = True
    amplitude_input: str = "frame"
    reference_normalization: bool = True
    identity_double_attention: bool = False
    output_norm: bool = True
    timestep_dim: int = 256
    amplitude_kernel: int = 3
    linguistic_encoder: str = "mel"
    linguistic_dim: int = 320
    emotion_encoder: str = "prosody"
    emotion_dim: int = 10

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise X3DError(f"model.hidden ({self.hidden}) must be divisible by model.heads ({self.heads})")
        for name in ("hidden", "heads", "ff_mult", "timestep_dim", "linguistic_dim", "emotion_dim"):
            if getattr(self, name) < 1:
                raise X3DError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("backbone_blocks", "identity_blocks", "pose_blocks", "expression_blocks"):
            if getattr(self, name) < 0:
                raise X3DError(f"model.{name} must be >= 0, got {getattr(self, name)}")
        if self.amplitude_kernel < 1 or self.amplitude_kernel % 2 == 0:
            raise X3DError(f"model.amplitude_kernel must be odd and >= 1, got {self.amplitude_kernel}")
        if self.timestep_dim % 2:
            raise X3DError(f"model.timestep_dim must be even, got {self.timestep_dim}")
        if self.amplitude_input not in AMPLITUDE_INPUTS:
            raise X3DError(f"model.amplitude_input must be one of {', '.join(AMPLITUDE_INPUTS)}, "
                           f"got {self.amplitude_input!r}")


AMPLITUDE_INPUTS = ("frame", "envelope")

LEGACY_MODEL_VALUES: dict[str, object] = {
    "cross_attention_positions": True, "feature_projection": True, "amplitude_input": "frame",
    "reference_normalization": True, "identity_double_attention": False, "output_norm": True,
}
"""Values of model keys added after checkpoint format 1 was first written: a checkpoint whose JSON
lacks one was trained with the value here (the only behaviour the code had then)."""

EXPRESSION_SPACES = ("flame-pca", "arkit")


@dataclass(frozen=True)
class FlowConfig:
    """Flow matching (paper Eq. 7) and its temporally smoothed initial noise.

    Attributes:
        train_steps: size of the training time grid; t = k / train_steps, k uniform in [0, train_steps).
        anchors: ``envelope`` (paper: Gaussian anchors at the extrema of the amplitude envelope plus the
            sequence ends) or ``fixed`` (authors' code: an anchor every ``anchor_spacing`` frames).
        anchor_spacing: frames between fixed anchors (authors 25).
        anchor_min_gap, anchor_max_gap: envelope mode keeps extrema at least ``min_gap`` frames apart
            and adds anchors so no gap exceeds ``max_gap`` (silence would otherwise give one long ramp).
        envelope_smoothing: moving-average width (frames) applied before extrema are searched.
        variance_preserving: rescale the linear blend so every frame's noise stays N(0, 1) (a plain
            blend of two anchors has variance 0.5 mid-segment).
        jaw_envelope_noise: authors' trick: jaw-open noise = |n| * normalised amplitude * this
            (authors 1.0 with a per-batch min-max bug; 0 disables, which is the paper's description).
        loss_weights: per-group weights of the velocity MSE (authors: all 1).
    """

    train_steps: int = 512
    anchors: str = "envelope"
    anchor_spacing: int = 25
    anchor_min_gap: int = 3
    anchor_max_gap: int = 50
    envelope_smoothing: int = 3
    variance_preserving: bool = True
    jaw_envelope_noise: float = 0.0
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {"shape": 1.0, "exp": 1.0, "head": 1.0, "jaw": 1.0, "detail": 1.0}
    )

    def __post_init__(self) -> None:
        if self.anchors not in ("envelope", "fixed"):
            raise X3DError(f"flow.anchors must be 'envelope' or 'fixed', got {self.anchors!r}")
        if self.train_steps < 1:
            raise X3DError(f"flow.train_steps must be >= 1, got {self.train_steps}")
        if self.anchor_spacing < 1 or self.anchor_min_gap < 1 or self.anchor_max_gap < self.anchor_min_gap:
            raise X3DError("flow anchor gaps must satisfy 1 <= anchor_min_gap <= anchor_max_gap, anchor_spacing >= 1")
        unknown = set(self.loss_weights) - {"shape", "exp", "head", "jaw", "detail"}
        if unknown:
            raise X3DError(f"flow.loss_weights has unknown groups {sorted(unknown)}; use shape, exp, head, jaw, detail")


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild a generator: architecture, flow, the training window length and
    the expression space its expression channels speak (``flame-pca`` or ``arkit``, see flame/arkit.py)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    window: int = 250
    expression_space: str = "flame-pca"

    def __post_init__(self) -> None:
        if self.window < 2:
            raise X3DError(f"window must be >= 2 frames, got {self.window}")
        if self.expression_space not in EXPRESSION_SPACES:
            raise X3DError(f"expression_space must be one of {', '.join(EXPRESSION_SPACES)}, "
                           f"got {self.expression_space!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        data = dict(data)
        model = _build(ModelConfig, data.pop("model", {}) or {}, "model")
        flow = _build(FlowConfig, data.pop("flow", {}) or {}, "flow")
        return _build(cls, {**data, "model": model, "flow": flow}, "generator")

    @classmethod
    def from_checkpoint_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """:meth:`from_dict` for a checkpoint's stored config: model keys it lacks take the values it
        was trained with (:data:`LEGACY_MODEL_VALUES`), not today's defaults."""
        data = dict(data)
        model = data.get("model")
        if isinstance(model, dict):
            data["model"] = {**LEGACY_MODEL_VALUES, **model}
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> GeneratorConfig:
        return dataclasses.replace(self, **changes)


def _build(cls, values: dict[str, Any], where: str):
    """Instantiate dataclass ``cls`` from a dict, naming unknown keys instead of a TypeError."""
    if not isinstance(values, dict):
        raise X3DError(f"config section '{where}' must be a mapping, got {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise X3DError(f"unknown key(s) {unknown} in config section '{where}'; known: {sorted(names)}")
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    return cls(**{k: _coerce(v, types[k], f"{where}.{k}") for k, v in values.items()})


def _coerce(value: Any, type_name: str, where: str) -> Any:
    """YAML reads ``1e-4`` as a string and users write ``3`` for ``3.0``: convert scalars to the field's type."""
    try:
        if type_name == "float" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return float(value)
        if type_name == "int" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            if float(value) != int(float(value)):
                raise ValueError("not a whole number")
            return int(float(value))
    except ValueError as exc:
        raise X3DError(f"config value {where}={value!r} must be a {type_name} ({exc})") from None
    if type_name == "bool" and not isinstance(value, bool):
        raise X3DError(f"config value {where}={value!r} must be true or false")
    return value


PAPER_MODEL = ModelConfig(
    adaln_zero=False, velocity_skip=False, cross_attention_bias=False, cross_attention_positions=False,
    feature_projection=False, amplitude_input="envelope", reference_normalization=False,
    identity_double_attention=True, output_norm=False, dropout=0.1, output_dropout=0.1,
)
"""The paper's size (App. B.2: 6 + 3 x 2 blocks, hidden 768) built as the authors' code builds it."""

PRESETS: dict[str, GeneratorConfig] = {
    "paper": GeneratorConfig(model=PAPER_MODEL),
    # The paper's size with the project's changes (every ModelConfig default).
    "improved": GeneratorConfig(),
    # Improved design, ~1/100 of the compute: trains in minutes and samples faster than real time on a CPU.
    "small": GeneratorConfig(
        model=ModelConfig(hidden=128, heads=4, backbone_blocks=2, identity_blocks=1, pose_blocks=1,
                          expression_blocks=1, ff_mult=2, dropout=0.0, timestep_dim=64),
        window=100,
    ),
}


def preset(name: str) -> GeneratorConfig:
    """The named preset (``paper``, ``improved`` or ``small``)."""
    if name not in PRESETS:
        raise X3DError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
