"""The multi-branch flow-matching transformer (paper §3.2, Fig. 3; SPEC §3).

Data flow for a batch of B windows of T frames::

    reference (B, 1 or T, 284) --norm--> Linear --+
    x_t (B, T, 284) ------------------> Linear --+--> LayerNorm --> H (B, T, D)
    k (B,) --> sinusoid --> MLP --> c (B, 6, D)   (modulates every block)
    H --> backbone DiT blocks (cross-attend linguistic tokens) --> shared latent
      +--> identity head (self-attention only)      --> shape (100) + detail (128)
      +--> pose head (cross-attends amplitude)      --> head (3) + jaw (3)
      +--> expression head (cross-attends emotion)  --> exp (50)
    concat in storage order [shape | exp | pose | detail] --> velocity (B, T, 284)

Where this follows the authors' code (REFERENCE-NOTES §2) and where it departs:

* same (every preset): parallel heads on one shared latent, adaLN-single modulation with one timestep
  MLP (6 D outputs) shared by all blocks, GEGLU feed-forward, positions added inside self-attention,
  separate input projections for the noisy delta and the reference, delta target, output order;
* ``paper`` preset = the authors' network at the paper's size: hidden 768 / 12 heads / 6 backbone
  blocks, 2 blocks per head (paper; the code used 1 for the identity head, with its double
  self-attention), random PixArt gates, raw cross-attention, the 640-sample envelope CNN, absolute
  reference, output dropout;
* ``improved`` / ``small`` (switches in :class:`~.config.ModelConfig`): a per-channel linear skip
  ``v += g(t) * x_t`` (``velocity_skip``), so models narrower than 284 channels can still invert the
  noise; a multi-scale distance bias and normalised, positioned cross-attention, because the audio
  features are frame-aligned with the motion; adaLN-zero init (SPEC); one normalised amplitude value
  per frame (paper §3.2); MLP feature projections; reference normalised by absolute-frame
  statistics; LayerNorm before the output MLPs; no dropout on the output velocity;
* all: unbounded positions, frozen audio encoders run once per clip *outside* the network (features
  are inputs), and everything that does not depend on x_t is computed once per window
  (:meth:`FlowTransformer.encode_conditions`: tokens, cross-attention keys/values, positions, bias)
  or once per ODE time (:meth:`FlowTransformer.encode_time`), so an ODE step runs only what depends
  on x_t (REFERENCE-NOTES §9.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import SAMPLES_PER_FRAME
from ..errors import X3DError
from ..params import N_DETAIL, N_EXP, N_POSE, N_SHAPE, PARAM_DIM
from .blocks import (
    AmplitudeEncoder, DiTBlock, EnvelopeEncoder, FeatureProjection, KeyValue, OutputHead, TimestepEmbedding,
    distance_bias, frame_positions, sinusoidal_embedding,
)
from .config import ModelConfig
from .normalization import Normalizer


@dataclass
class Conditions:
    """Everything of a batch of windows that is independent of x_t and t: computed once per window.

    Attributes:
        reference: (B, 1 or T, D) projected reference frame(s).
        linguistic: (B, T, Dl') linguistic tokens (backbone cross-attention context).
        amplitude: (B, T, D) amplitude tokens (pose head context).
        emotion: (B, T, De') emotion tokens (expression head context).
        positions: (T, D) frame positional encoding.
        bias: (H, T, T) cross-attention distance bias, or None.
        keys_values: cross-attention keys/values of every cross-attending block, in the order
            backbone, pose head, expression head; None = project them inside every step (the
            reference path the cached one is tested against).
    """

    reference: torch.Tensor
    linguistic: torch.Tensor
    amplitude: torch.Tensor
    emotion: torch.Tensor
    positions: torch.Tensor
    bias: torch.Tensor | None
    keys_values: list[KeyValue] | None


@dataclass
class TimeConditions:
    """What depends only on the flow time k: block modulation (B or 1, 6, D) and the skip gain
    (B or 1, 284) or None. The same for every window, so computed once per ODE time."""

    modulation: torch.Tensor
    skip_gain: torch.Tensor | None


class FlowTransformer(nn.Module):
    """Velocity field v_theta(x_t, t | reference, audio) over normalised deltas."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d = config.hidden
        zero = config.adaln_zero
        ling_dim = d if config.feature_projection else config.linguistic_dim
        emo_dim = d if config.feature_projection else config.emotion_dim

        def blocks(n: int, cross: bool, context_dim: int | None = None) -> nn.ModuleList:
            return nn.ModuleList(
                DiTBlock(d, config.heads, config.ff_mult, config.dropout, cross, zero, context_dim=context_dim,
                         positioned=config.cross_attention_positions,
                         double_self_attention=config.identity_double_attention)
                for _ in range(n))

        self.normalizer = Normalizer()
        self.input_proj = nn.Linear(PARAM_DIM, d)
        self.reference_proj = nn.Linear(PARAM_DIM, d)
        self.input_norm = nn.LayerNorm(d)
        self.timestep = TimestepEmbedding(d, config.timestep_dim, zero)
        if config.feature_projection:
            self.linguistic_proj = FeatureProjection(config.linguistic_dim, d)
            self.emotion_proj = FeatureProjection(config.emotion_dim, d)
        else:  # authors: WavLM states as they are, emotion2vec states layer-normalised
            self.linguistic_proj = nn.Identity()
            self.emotion_proj = nn.LayerNorm(config.emotion_dim)
        if config.amplitude_input == "envelope":
            self.amplitude_enc = EnvelopeEncoder(d, config.amplitude_kernel, SAMPLES_PER_FRAME)
        else:
            self.amplitude_enc = AmplitudeEncoder(d, config.amplitude_kernel)
        self.backbone = blocks(config.backbone_blocks, cross=True, context_dim=ling_dim)
        self.identity_head = blocks(config.identity_blocks, cross=False)
        self.pose_head = blocks(config.pose_blocks, cross=True)
        self.expression_head = blocks(config.expression_blocks, cross=True, context_dim=emo_dim)
        out = dict(dropout=config.output_dropout, zero_init=zero, norm=config.output_norm)
        self.identity_out = OutputHead(d, N_SHAPE + N_DETAIL, **out)
        self.pose_out = OutputHead(d, N_POSE, **out)
        self.expression_out = OutputHead(d, N_EXP, **out)
        if config.velocity_skip:
            # Per-channel gain on x_t as a function of t only (zero at init). The velocity needs
            # x_0 = (x_t - t x_1) / (1 - t) for all 284 channels; carrying 284 independent noise
            # channels through a narrower token width is what a small model cannot do.
            self.skip_gain = nn.Sequential(nn.Linear(config.timestep_dim, 4 * config.timestep_dim), nn.SiLU(),
                                           nn.Linear(4 * config.timestep_dim, PARAM_DIM))
            nn.init.zeros_(self.skip_gain[2].weight)
            nn.init.zeros_(self.skip_gain[2].bias)

    @property
    def amplitude_channels(self) -> int:
        """Width of the amplitude input: 1 (normalised frame amplitude) or 640 (raw sample envelope)."""
        return SAMPLES_PER_FRAME if self.config.amplitude_input == "envelope" else 1

    def _cross_blocks(self) -> list[tuple[DiTBlock, str]]:
        return ([(b, "linguistic") for b in self.backbone] + [(b, "amplitude") for b in self.pose_head]
                + [(b, "emotion") for b in self.expression_head])

    # ---------------------------------------------------------------------------------------
    def encode_conditions(self, reference: torch.Tensor, linguistic: torch.Tensor,
                          amplitude: torch.Tensor, emotion: torch.Tensor, *, cache: bool = True) -> Conditions:
        """Project the conditions once per window.

        Args:
            reference: (B, 1, 284) or (B, T, 284) absolute reference parameters (not normalised).
            linguistic: (B, T, D_l) linguistic features.
            amplitude: (B, T, 1) per-clip normalised frame amplitude (:func:`flow.normalize_amplitude`),
                or (B, T, 640) raw sample envelope when ``amplitude_input == "envelope"``
                (:attr:`amplitude_channels`).
            emotion: (B, T, D_e) emotion features.
            cache: also project every block's cross-attention keys/values (False: inside every step).
        """
        if amplitude.shape[-1] != self.amplitude_channels:
            raise X3DError(f"this generator's amplitude input ({self.config.amplitude_input}) has "
                           f"{self.amplitude_channels} channel(s) per frame, got {amplitude.shape[-1]}")
        dtype = self.input_proj.weight.dtype
        device = self.input_proj.weight.device
        if self.config.reference_normalization:
            reference = self.normalizer.normalize_reference(reference)
        t = linguistic.shape[1]
        cond = Conditions(
            reference=self.reference_proj(reference.to(dtype)),
            linguistic=self.linguistic_proj(linguistic.to(dtype)),
            amplitude=self.amplitude_enc(amplitude.to(dtype)),
            emotion=self.emotion_proj(emotion.to(dtype)),
            positions=frame_positions(t, self.config.hidden, device, dtype),
            bias=distance_bias(t, t, self.config.heads, device, dtype) if self.config.cross_attention_bias else None,
            keys_values=None,
        )
        if cache:
            cond.keys_values = [b.context_kv(getattr(cond, name), cond.positions) for b, name in self._cross_blocks()]
        return cond

    def encode_time(self, k: torch.Tensor) -> TimeConditions:
        """k (B,) flow time on the training grid (t * train_steps, float) -> :class:`TimeConditions`;
        a (1,) k serves a batch of any size."""
        dtype = self.input_proj.weight.dtype
        gain = None
        if self.config.velocity_skip:
            gain = self.skip_gain(sinusoidal_embedding(k, self.config.timestep_dim).to(dtype))
        return TimeConditions(self.timestep(k, dtype), gain)

    def velocity(self, x_t: torch.Tensor, time: torch.Tensor | TimeConditions, cond: Conditions) -> torch.Tensor:
        """Predicted velocity.

        Args:
            x_t: (B, T, 284) noisy normalised delta.
            time: (B,) flow time k on the training grid (t * train_steps, float), or its
                :meth:`encode_time` (computed once per ODE time for all windows).
            cond: conditions of the same B windows (:meth:`encode_conditions`).
        Returns:
            (B, T, 284) velocity in storage order.
        """
        if not isinstance(time, TimeConditions):
            time = self.encode_time(time)
        dtype = self.input_proj.weight.dtype
        x = x_t.to(dtype)
        h = self.input_norm(self.input_proj(x) + cond.reference)
        c, pos, bias = time.modulation, cond.positions, cond.bias
        kv = iter(cond.keys_values) if cond.keys_values is not None else None

        def run(blocks: nn.ModuleList, h: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
            for block in blocks:
                if context is None:
                    h = block(h, c, pos)
                else:
                    h = block(h, c, pos, context, bias, next(kv) if kv is not None else None)
            return h

        h = run(self.backbone, h, cond.linguistic)
        ident = run(self.identity_head, h, None)
        pose = run(self.pose_head, h, cond.amplitude)
        expr = run(self.expression_head, h, cond.emotion)
        shape_detail = self.identity_out(ident)
        v = torch.cat([
            shape_detail[..., :N_SHAPE], self.expression_out(expr), self.pose_out(pose), shape_detail[..., N_SHAPE:],
        ], dim=-1)
        if time.skip_gain is not None:
            v = v + time.skip_gain[:, None, :] * x
        return v

    def forward(self, x_t: torch.Tensor, k: torch.Tensor, reference: torch.Tensor, linguistic: torch.Tensor,
                amplitude: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """One-call form used in training (so DDP sees a plain forward); see :meth:`velocity`."""
        return self.velocity(x_t, k, self.encode_conditions(reference, linguistic, amplitude, emotion, cache=False))
