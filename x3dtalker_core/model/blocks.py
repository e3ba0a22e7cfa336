"""Transformer building blocks: positional/timestep embeddings, attention, GEGLU, the DiT block.

The block follows the authors' PixArt-style "adaLN-single" layout (one timestep MLP shared by all
blocks, a learned per-block table added to its output; REFERENCE-NOTES §2.3). The ``improved``
design changes, each a :class:`~.config.ModelConfig` switch (``paper`` turns them all off):

* adaLN-zero initialisation (SPEC §3) instead of random gates;
* the cross-attention query is layer-normalised, query and keys carry positions, and an optional
  ALiBi-style distance bias makes heads local at several scales (the authors fed the raw residual
  stream, no positions, no bias; with features that carry no position of their own, such as
  log-mel, frame t could hardly find its audio frame).

Both: positions are computed on the fly, so windows of any length work (the authors' table stopped
at 1000 frames = 40 s); their sin/cos channels are concatenated where the authors interleaved them,
a fixed permutation of the hidden channels, so the two layouts span the same networks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoidal_embedding(positions: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding of (possibly fractional) positions.

    Args:
        positions: (N,) float or int tensor.
        dim: even output width.
    Returns:
        (N, dim) float32: cos of the first half of the frequencies, then sin (GLIDE layout).
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    args = positions.to(torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def distance_bias(num_queries: int, num_keys: int, heads: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(heads, T, S) additive attention bias -slope_h * |t - s| (ALiBi-style), slopes 1, 2^(-8/H), ...

    Used on cross-attention to frame-aligned audio features: the steepest head looks at its own
    frame, the flattest at the whole window, so aligning frames to audio needs no learning.
    """
    slopes = torch.pow(2.0, -8.0 * torch.arange(heads, device=device, dtype=torch.float32) / heads)
    dist = (torch.arange(num_queries, device=device)[:, None] - torch.arange(num_keys, device=device)[None]).abs()
    return (-slopes[:, None, None] * dist[None].float()).to(dtype)


def frame_positions(num_frames: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(T, dim) sinusoidal positional encoding of frames 0..T-1."""
    return sinusoidal_embedding(torch.arange(num_frames, device=device), dim).to(dtype)


KeyValue = tuple[torch.Tensor, torch.Tensor]
"""Projected, head-split keys and values of a context, each (B, H, S, D / H)."""


class Attention(nn.Module):
    """Multi-head attention (fused ``scaled_dot_product_attention``, no mask: full bidirectional
    attention over frames). q/k/v without bias, output projection with bias, then dropout (as the
    authors' diffusers ``Attention``)."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        context_dim = context_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def _split(self, z: torch.Tensor) -> torch.Tensor:
        b, s, d = z.shape
        return z.view(b, s, self.heads, d // self.heads).transpose(1, 2)

    def project_kv(self, key: torch.Tensor, value: torch.Tensor) -> KeyValue:
        """key, value (B, S, Dc) -> :data:`KeyValue`. Independent of the queries: for a fixed context
        (the audio tokens of a window) compute it once and reuse it at every ODE step."""
        return self._split(self.to_k(key)), self._split(self.to_v(value))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, key: torch.Tensor | None = None,
                bias: torch.Tensor | None = None, kv: KeyValue | None = None) -> torch.Tensor:
        """x (B, T, D) queries; context (B, S, Dc) values (default x); key (B, S, Dc) keys (default
        context); kv: precomputed :meth:`project_kv` (then context and key are not used);
        bias (H, T, S) additive attention bias or None."""
        b, t, d = x.shape
        if kv is None:
            context = x if context is None else context
            kv = self.project_kv(context if key is None else key, context)
        out = F.scaled_dot_product_attention(self._split(self.to_q(x)), kv[0], kv[1], attn_mask=bias)
        return self.dropout(self.to_out(out.transpose(1, 2).reshape(b, t, d)))


class GEGLU(nn.Module):
    """Feed-forward with a GELU-gated linear unit (inner width ``mult * dim``); dropout after the gate
    (diffusers ``FeedForward``; the block's residual is not dropped)."""

    def __init__(self, dim: int, mult: int, dropout: float):
        super().__init__()
        inner = dim * mult
        self.proj_in = nn.Linear(dim, 2 * inner)
        self.proj_out = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj_in(x).chunk(2, dim=-1)
        return self.proj_out(self.dropout(value * F.gelu(gate)))


class DiTBlock(nn.Module):
    """Timestep-modulated transformer block over frames, optionally cross-attending to a context.

    Per block (``positioned`` cross-attention; the authors' layout uses ``x`` as the query and the
    context as keys)::

        (shift1, scale1, gate1, shift2, scale2, gate2) = table + c        # c: shared timestep MLP
        x = x + gate1 * SelfAttn(LN(x) * (1 + scale1) + shift1 + PE)
        x = x + CrossAttn(LN(x) + PE, keys = context + PE, values = context)   # if cross
        x = x + SelfAttn2(x)                                                    # if double_self_attention
        x = x + gate2 * FF(LN(x) * (1 + scale2) + shift2)

    Args:
        cross: cross-attend to a context of width ``context_dim`` (default ``dim``).
        positioned: normalised, positioned query and positioned keys (else the authors' raw ones).
        double_self_attention: without ``cross``, a second, ungated self-attention on the residual
            stream (the authors' identity-head block).
        adaln_zero: zero modulation table (else random, std 1/sqrt(dim), as PixArt).
    """

    def __init__(self, dim: int, heads: int, ff_mult: int, dropout: float, cross: bool, adaln_zero: bool,
                 context_dim: int | None = None, positioned: bool = True, double_self_attention: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, dropout=dropout)
        self.cross = cross
        self.positioned = positioned
        if cross:
            if positioned:
                self.norm_cross = nn.LayerNorm(dim)
            self.cross_attn = Attention(dim, heads, context_dim=context_dim, dropout=dropout)
        self.double_self_attention = double_self_attention and not cross
        if self.double_self_attention:
            self.second_self_attn = Attention(dim, heads, dropout=dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = GEGLU(dim, ff_mult, dropout)
        table = torch.zeros(6, dim) if adaln_zero else torch.randn(6, dim) / math.sqrt(dim)
        self.modulation = nn.Parameter(table)

    def context_kv(self, context: torch.Tensor, pos: torch.Tensor) -> KeyValue:
        """Cross-attention keys/values of ``context`` (B, S, Dc); pos (>= S, D) frame positions."""
        key = context + pos[: context.shape[1]] if self.positioned else context
        return self.cross_attn.project_kv(key, context)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, pos: torch.Tensor,
                context: torch.Tensor | None = None, context_bias: torch.Tensor | None = None,
                context_kv: KeyValue | None = None) -> torch.Tensor:
        """x (B, T, D); cond (B, 6, D) timestep modulation; pos (T, D); context (B, S, Dc) or its
        precomputed :meth:`context_kv`; context_bias (H, T, S) cross-attention bias or None."""
        shift1, scale1, gate1, shift2, scale2, gate2 = (self.modulation[None] + cond).unsqueeze(2).unbind(1)
        h = self.norm1(x) * (1 + scale1) + shift1 + pos
        x = x + gate1 * self.self_attn(h)
        if self.cross:
            if context_kv is None:
                if context is None:
                    raise ValueError("this block cross-attends and needs a context")
                context_kv = self.context_kv(context, pos)
            query = self.norm_cross(x) + pos if self.positioned else x
            x = x + self.cross_attn(query, kv=context_kv, bias=context_bias)
        elif self.double_self_attention:
            x = x + self.second_self_attn(x)
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + gate2 * self.ff(h)


class TimestepEmbedding(nn.Module):
    """Flow time -> modulation vectors for every block: sinusoid(k) -> Linear -> SiLU -> Linear (6 D).

    ``k`` is the time on the training grid (t * train_steps), fractional values allowed, so any ODE
    step schedule (Heun's end point, fewer steps) is embedded consistently.
    """

    def __init__(self, dim: int, freq_dim: int, zero_init: bool):
        super().__init__()
        self.freq_dim = freq_dim
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, 6 * dim), nn.SiLU(), nn.Linear(6 * dim, 6 * dim))
        nn.init.normal_(self.mlp[0].weight, std=0.02)
        nn.init.normal_(self.mlp[2].weight, std=0.02)
        if zero_init:
            nn.init.zeros_(self.mlp[2].weight)
            nn.init.zeros_(self.mlp[2].bias)

    def forward(self, k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """k (B,) -> (B, 6, D)."""
        emb = sinusoidal_embedding(k, self.freq_dim).to(dtype)
        return self.mlp(emb).view(-1, 6, self.dim)


class OutputHead(nn.Module):
    """[LayerNorm ->] Linear -> GELU -> Linear -> dropout, from tokens to a velocity group."""

    def __init__(self, dim: int, out_dim: int, dropout: float, zero_init: bool, norm: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else nn.Identity()
        self.net = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, out_dim))
        self.dropout = nn.Dropout(dropout)
        if zero_init:
            nn.init.zeros_(self.net[2].weight)
            nn.init.zeros_(self.net[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.net(self.norm(x)))


class AmplitudeEncoder(nn.Module):
    """Frame amplitude (B, T, 1) -> tokens (B, T, D) by three dilated temporal convolutions.

    The paper averages the Hilbert envelope per frame and cross-attends to it; the authors fed the 640
    raw envelope samples of each frame as conv channels. We follow the paper's input (one value per
    frame, normalised per clip) and keep the authors' dilated-conv receptive field (1, 2, 4).
    """

    def __init__(self, dim: int, kernel: int):
        super().__init__()
        mid = max(dim // 2, 1)
        pad = kernel // 2
        self.net = nn.Sequential(
            nn.Conv1d(1, mid, kernel, padding=pad, dilation=1), nn.GELU(),
            nn.Conv1d(mid, dim, kernel, padding=2 * pad, dilation=2), nn.GELU(),
            nn.Conv1d(dim, dim, kernel, padding=4 * pad, dilation=4),
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, amplitude: torch.Tensor) -> torch.Tensor:
        return self.norm(self.net(amplitude.transpose(1, 2)).transpose(1, 2))


class EnvelopeEncoder(nn.Module):
    """The authors' amplitude path: raw sample envelope (B, T, S) -> tokens (B, T, D).

    Each frame's S = 640 envelope samples are the input channels of three dilated temporal
    convolutions (dilations 1, 2, 4; widths S -> 2D/3 -> D -> D, i.e. 640 -> 512 -> 768 -> 768 at
    D = 768), each followed by BatchNorm and ReLU, then a 3-frame average pool and LayerNorm
    (REFERENCE-NOTES §2.2 step 2).
    """

    def __init__(self, dim: int, kernel: int, samples: int):
        super().__init__()
        mid = max(2 * dim // 3, 1)
        pad = kernel // 2
        self.net = nn.Sequential(
            nn.Conv1d(samples, mid, kernel, padding=pad, dilation=1), nn.BatchNorm1d(mid), nn.ReLU(),
            nn.Conv1d(mid, dim, kernel, padding=2 * pad, dilation=2), nn.BatchNorm1d(dim), nn.ReLU(),
            nn.Conv1d(dim, dim, kernel, padding=4 * pad, dilation=4), nn.BatchNorm1d(dim), nn.ReLU(),
            nn.AvgPool1d(3, stride=1, padding=1),
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, envelope: torch.Tensor) -> torch.Tensor:
        return self.norm(self.net(envelope.transpose(1, 2)).transpose(1, 2))


class FeatureProjection(nn.Module):
    """Per-frame audio features (B, T, F) -> tokens (B, T, D): LayerNorm -> Linear -> GELU -> Linear."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.norm(self.net(features))
