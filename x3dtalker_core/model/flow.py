"""Flow matching (paper Eq. 7): amplitude normalisation, smoothed initial noise, training loss.

Convention (rectified flow, data at t = 1, as in the authors' code)::

    x_1 = (delta - mean) / std          delta = frame - reference
    x_0 = temporally smoothed noise
    x_t = t x_1 + (1 - t) x_0,  t = k / train_steps,  k ~ U{0 .. train_steps - 1}
    loss = weighted mean of (v_theta(x_t, k) - (x_1 - x_0))^2
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..audio.envelope import envelope_extrema
from ..params import PARAM_DIM
from .config import FlowConfig

JAW_OPEN = 153
"""Channel of jaw opening (x axis of the jaw rotation) in the 284 vector."""

LOSS_GROUPS: dict[str, slice] = {
    "shape": slice(0, 100), "exp": slice(100, 150), "head": slice(150, 153), "jaw": slice(153, 156),
    "detail": slice(156, 284),
}


def normalize_amplitude(amplitude: np.ndarray) -> np.ndarray:
    """Per-clip loudness normalisation of the frame amplitude.

    Divides by the clip's 95th percentile so a quiet and a loud recording of the same speech give
    the same input (the authors used the raw envelope). Always computed over the *whole clip*, so
    every window of a long clip, and every training crop, sees the same scale.

    Args:
        amplitude: (T, 1) or (T,) mean Hilbert envelope per frame.
    Returns:
        (T, 1) float32 in [0, 4].
    """
    a = np.asarray(amplitude, dtype=np.float32).reshape(-1, 1)
    if a.size == 0:
        return a
    scale = float(np.percentile(a, 95))
    return np.clip(a / max(scale, 1e-6), 0.0, 4.0).astype(np.float32)


def anchor_frames(amplitude: np.ndarray, config: FlowConfig) -> np.ndarray:
    """Frames that carry independent Gaussian anchors of the initial noise.

    ``envelope`` mode (paper): :func:`~x3dtalker_core.audio.envelope.envelope_extrema` with the
    config's ``anchor_min_gap``, ``anchor_max_gap`` and ``envelope_smoothing``.
    ``fixed`` mode (authors' code): every ``anchor_spacing`` frames plus the last frame.

    Args:
        amplitude: (T,) or (T, 1) normalised frame amplitude.
    Returns:
        (S,) sorted unique int64 frame indices, first 0 and last T - 1.
    """
    a = np.asarray(amplitude, dtype=np.float64).reshape(-1)
    t = a.shape[0]
    if t <= 1:
        return np.zeros(1, np.int64)
    if config.anchors == "fixed":
        return np.unique(np.append(np.arange(0, t, config.anchor_spacing), t - 1)).astype(np.int64)
    return envelope_extrema(a, config.anchor_min_gap, config.anchor_max_gap, config.envelope_smoothing)


def _interpolation(anchors: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of t frames: index of the left anchor (into ``anchors``) and the blend weight in [0, 1]."""
    frames = np.arange(t)
    if len(anchors) == 1:
        return np.zeros(t, np.int64), np.zeros(t, np.float32)
    seg = np.clip(np.searchsorted(anchors, frames, side="right") - 1, 0, len(anchors) - 2)
    w = (frames - anchors[seg]) / (anchors[seg + 1] - anchors[seg])
    return seg.astype(np.int64), w.astype(np.float32)


def smoothed_noise(amplitudes: list[np.ndarray], config: FlowConfig, generator: torch.Generator,
                   device: torch.device | str | None = None, dim: int = PARAM_DIM) -> torch.Tensor:
    """Temporally smoothed initial noise x_0 for a batch (paper §3.2 "Flow-matching Training").

    Gaussian anchors at :func:`anchor_frames`, linearly interpolated over frames; with
    ``variance_preserving`` each frame is rescaled to unit variance. The random numbers are drawn
    with ``generator`` on the generator's device, then moved, so a seed gives the same noise on
    every device.

    Args:
        amplitudes: B arrays (T,) or (T, 1) of normalised amplitude, all of the same length T.
        generator: torch random generator.
    Returns:
        (B, T, dim) float32 on ``device``.
    """
    b, t = len(amplitudes), np.asarray(amplitudes[0]).reshape(-1).shape[0]
    plans = [anchor_frames(a, config) for a in amplitudes]
    s_max = max(len(p) for p in plans)
    seg = np.zeros((b, t), np.int64)
    w = np.zeros((b, t), np.float32)
    for i, p in enumerate(plans):
        seg[i], w[i] = _interpolation(p, t)
    gen_device = generator.device
    anchors = torch.randn(b, s_max + 1, dim, generator=generator, device=gen_device)
    seg_t = torch.from_numpy(seg).to(gen_device)
    w_t = torch.from_numpy(w).to(gen_device)[..., None]
    idx = seg_t[..., None].expand(b, t, dim)
    left = torch.gather(anchors, 1, idx)
    right = torch.gather(anchors, 1, idx + 1)
    noise = (1 - w_t) * left + w_t * right
    if config.variance_preserving:
        noise = noise / torch.sqrt((1 - w_t) ** 2 + w_t**2)
    if config.jaw_envelope_noise > 0:
        amp = torch.from_numpy(np.stack([np.asarray(a, np.float32).reshape(-1) for a in amplitudes])).to(gen_device)
        noise[..., JAW_OPEN] = noise[..., JAW_OPEN].abs() * amp.clamp(0, 1) * config.jaw_envelope_noise
    return noise.to(device if device is not None else gen_device)


def loss_weight_vector(config: FlowConfig, device: torch.device | str | None = None) -> torch.Tensor:
    """(284,) per-channel weights from the per-group ``loss_weights`` (missing groups weigh 1)."""
    w = torch.ones(PARAM_DIM)
    for group, sl in LOSS_GROUPS.items():
        w[sl] = float(config.loss_weights.get(group, 1.0))
    return w.to(device)


@dataclass
class FlowBatch:
    """One training batch (tensors on the training device).

    Attributes:
        params: (B, T, 284) absolute target frames.
        reference: (B, 1, 284) absolute reference frame (first frame of each clip).
        linguistic: (B, T, D_l); amplitude: (B, T, 1) normalised (noise anchors, and the network's
            amplitude input unless ``envelope`` is given); emotion: (B, T, D_e).
        envelope: (B, T, 640) raw sample envelope, the network's amplitude input for the authors'
            envelope path (``amplitude_input == "envelope"``), else None.
    """

    params: torch.Tensor
    reference: torch.Tensor
    linguistic: torch.Tensor
    amplitude: torch.Tensor
    emotion: torch.Tensor
    envelope: torch.Tensor | None = None

    @property
    def network_amplitude(self) -> torch.Tensor:
        return self.amplitude if self.envelope is None else self.envelope


def flow_matching_loss(network: torch.nn.Module, normalizer, batch: FlowBatch, config: FlowConfig,
                       generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted velocity MSE for one batch.

    Args:
        network: the (possibly DDP-wrapped) :class:`FlowTransformer`, called as ``network(x_t, k, ...)``.
        normalizer: its :class:`Normalizer` (targets are built in float32, never in bf16).
        generator: random generator for k and x_0 (seeded per step by the trainer, so resumes are exact).
    Returns:
        scalar float32 loss and per-group MSE values for logging.
    """
    device = batch.params.device
    b, t, _ = batch.params.shape
    x1 = normalizer.normalize_delta(batch.params.float() - batch.reference.float())
    k = torch.randint(0, config.train_steps, (b,), generator=generator, device=generator.device).to(device)
    tt = (k.float() / config.train_steps)[:, None, None]
    amps = list(batch.amplitude.detach().float().cpu().numpy()[..., 0])
    x0 = smoothed_noise(amps, config, generator, device)
    x_t = tt * x1 + (1 - tt) * x0
    v = network(x_t, k.float(), batch.reference, batch.linguistic, batch.network_amplitude, batch.emotion).float()
    err = (v - (x1 - x0)) ** 2
    w = loss_weight_vector(config, device)
    loss = (err * w).sum(-1).mean() / w.sum()
    with torch.no_grad():
        parts = {g: float(err[..., sl].mean()) for g, sl in LOSS_GROUPS.items()}
    return loss, parts
