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

* same: hidden 768 / 12 heads / 6 backbone blocks, parallel heads on one shared latent, adaLN-single
  modulation with one timestep MLP (6 D outputs) shared by all blocks, GEGLU feed-forward, positions
  added inside self-attention, separate input projections for the noisy delta and the reference,
  delta target, output order;
* paper, not code: identity head depth 2 (configurable; code 1), amplitude enters as one value per
  frame (code: 640 raw envelope samples as conv channels);
* addition: a per-channel linear skip ``v += g(t) * x_t`` (``velocity_skip``; see ``__init__``),
  so models narrower than 284 channels can still invert the noise;
* addition: a multi-scale distance bias on cross-attention (``cross_attention_bias``), because the
  audio features are frame-aligned with the motion;
* fixes: adaLN-zero init (SPEC), no dropout on the output velocity (configurable), reference input
  normalised by absolute-frame statistics, normalised + positioned cross-attention, unbounded
  positions, frozen audio encoders run once per clip *outside* the network (features are inputs),
  so sampling runs only this network per ODE step (:meth:`FlowTransformer.encode_conditions` is
  called once per window; REFERENCE-NOTES §9.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..params import N_DETAIL, N_EXP, N_POSE, N_SHAPE, PARAM_DIM
from .blocks import (
    AmplitudeEncoder, DiTBlock, FeatureProjection, OutputHead, TimestepEmbedding, distance_bias, frame_positions,
    sinusoidal_embedding,
)
from .config import ModelConfig
from .normalization import Normalizer


@dataclass
class Conditions:
    """Conditioning tokens of a batch of windows; independent of x_t and t, so computed once per window.

    Attributes:
        reference: (B, 1 or T, D) projected reference frame(s).
        linguistic: (B, T, D) linguistic audio tokens (backbone cross-attention).
        amplitude: (B, T, D) amplitude tokens (pose head).
        emotion: (B, T, D) emotion tokens (expression head).
    """

    reference: torch.Tensor
    linguistic: torch.Tensor
    amplitude: torch.Tensor
    emotion: torch.Tensor


class FlowTransformer(nn.Module):
    """Velocity field v_theta(x_t, t | reference, audio) over normalised deltas."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d = config.hidden
        zero = config.adaln_zero

        def blocks(n: int, cross: bool) -> nn.ModuleList:
            return nn.ModuleList(
                DiTBlock(d, config.heads, config.ff_mult, config.dropout, cross, zero) for _ in range(n))

        self.normalizer = Normalizer()
        self.input_proj = nn.Linear(PARAM_DIM, d)
        self.reference_proj = nn.Linear(PARAM_DIM, d)
        self.input_norm = nn.LayerNorm(d)
        self.timestep = TimestepEmbedding(d, config.timestep_dim, zero)
        self.linguistic_proj = FeatureProjection(config.linguistic_dim, d)
        self.emotion_proj = FeatureProjection(config.emotion_dim, d)
        self.amplitude_enc = AmplitudeEncoder(d, config.amplitude_kernel)
        self.backbone = blocks(config.backbone_blocks, cross=True)
        self.identity_head = blocks(config.identity_blocks, cross=False)
        self.pose_head = blocks(config.pose_blocks, cross=True)
        self.expression_head = blocks(config.expression_blocks, cross=True)
        self.identity_out = OutputHead(d, N_SHAPE + N_DETAIL, config.output_dropout, zero)
        self.pose_out = OutputHead(d, N_POSE, config.output_dropout, zero)
        self.expression_out = OutputHead(d, N_EXP, config.output_dropout, zero)
        if config.velocity_skip:
            # Per-channel gain on x_t as a function of t only (zero at init). The velocity needs
            # x_0 = (x_t - t x_1) / (1 - t) for all 284 channels; carrying 284 independent noise
            # channels through a narrower token width is what a small model cannot do.
            self.skip_gain = nn.Sequential(nn.Linear(config.timestep_dim, 4 * config.timestep_dim), nn.SiLU(),
                                           nn.Linear(4 * config.timestep_dim, PARAM_DIM))
            nn.init.zeros_(self.skip_gain[2].weight)
            nn.init.zeros_(self.skip_gain[2].bias)

    # ---------------------------------------------------------------------------------------
    def encode_conditions(self, reference: torch.Tensor, linguistic: torch.Tensor,
                          amplitude: torch.Tensor, emotion: torch.Tensor) -> Conditions:
        """Project the conditions once per window.

        Args:
            reference: (B, 1, 284) or (B, T, 284) absolute reference parameters (not normalised).
            linguistic: (B, T, D_l) linguistic features.
            amplitude: (B, T, 1) per-clip normalised frame amplitude (:func:`flow.normalize_amplitude`).
            emotion: (B, T, D_e) emotion features.
        """
        dtype = self.input_proj.weight.dtype
        ref = self.normalizer.normalize_reference(reference).to(dtype)
        return Conditions(
            reference=self.reference_proj(ref),
            linguistic=self.linguistic_proj(linguistic.to(dtype)),
            amplitude=self.amplitude_enc(amplitude.to(dtype)),
            emotion=self.emotion_proj(emotion.to(dtype)),
        )

    def velocity(self, x_t: torch.Tensor, k: torch.Tensor, cond: Conditions) -> torch.Tensor:
        """Predicted velocity.

        Args:
            x_t: (B, T, 284) noisy normalised delta.
            k: (B,) flow time on the training grid (t * train_steps), float.
            cond: conditions of the same B windows.
        Returns:
            (B, T, 284) velocity in storage order.
        """
        dtype = self.input_proj.weight.dtype
        h = self.input_norm(self.input_proj(x_t.to(dtype)) + cond.reference)
        c = self.timestep(k, dtype)
        t = x_t.shape[1]
        pos = frame_positions(t, self.config.hidden, x_t.device, dtype)
        bias = distance_bias(t, t, self.config.heads, x_t.device, dtype) if self.config.cross_attention_bias else None
        for block in self.backbone:
            h = block(h, c, pos, cond.linguistic, bias)
        ident, pose, expr = h, h, h
        for block in self.identity_head:
            ident = block(ident, c, pos)
        for block in self.pose_head:
            pose = block(pose, c, pos, cond.amplitude, bias)
        for block in self.expression_head:
            expr = block(expr, c, pos, cond.emotion, bias)
        shape_detail = self.identity_out(ident)
        v = torch.cat([
            shape_detail[..., :N_SHAPE], self.expression_out(expr), self.pose_out(pose), shape_detail[..., N_SHAPE:],
        ], dim=-1)
        if self.config.velocity_skip:
            gain = self.skip_gain(sinusoidal_embedding(k, self.config.timestep_dim).to(dtype))
            v = v + gain[:, None, :] * x_t.to(dtype)
        return v

    def forward(self, x_t: torch.Tensor, k: torch.Tensor, reference: torch.Tensor, linguistic: torch.Tensor,
                amplitude: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """One-call form used in training (so DDP sees a plain forward); see :meth:`velocity`."""
        return self.velocity(x_t, k, self.encode_conditions(reference, linguistic, amplitude, emotion))
