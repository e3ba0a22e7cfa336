"""Inference: reference + audio features -> FLAME sequence (paper §3.2 "Inference", SPEC §3).

Pipeline for a clip of T frames::

    amplitude -> per-clip normalisation -> anchors -> smoothed noise x_0 (T, 284), from one seed
    plan windows of the training length (overlap, cross-fade)
    time conditions of every ODE time = network.encode_time(k)   # once per clip, shared by all windows
    for each batch of windows:
        conditions = network.encode_conditions(...)    # once per window: tokens, cross-attention K/V
        x = x_0[window];  for each of `steps` ODE steps: x += dt * v(x, t)   (Euler or Heun)
        delta = x * std + mean  ->  cross-fade accumulator
    params = reference (per frame) + delta -> Savitzky–Golay

Head pose and emotion controls are applied by the caller (``pipeline.generate_motion``), not here.
Memory is the output-sized arrays (x_0, the accumulator) plus one batch of windows, whatever T is.
"""

from __future__ import annotations

import logging

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..audio.features import AudioFeatures
from ..errors import Cancelled, X3DError
from ..params import PARAM_DIM, FlameParams, FlameSequence
from .checkpoint import load_network, resolve_checkpoint
from .config import GeneratorConfig
from .flow import normalize_amplitude, smoothed_noise
from .network import FlowTransformer, TimeConditions
from .smoothing import smooth_motion
from .windows import CrossFade, plan_windows, window_weights

SOLVERS = ("euler", "heun")


log = logging.getLogger(__name__)

class GenerationCancelled(Cancelled):
    """Raised when the ``cancel`` callback of :func:`generate_sequence` returns True."""


@dataclass
class Generator:
    """A loaded generator: network (eval mode, on its device/dtype), config and checkpoint facts.

    Attributes:
        network: the :class:`FlowTransformer`.
        config: its :class:`GeneratorConfig`.
        info: checkpoint info (training summary, code version).
        source: where it was loaded from ("" when built in memory).
        requested_dtype: the precision asked for; float16 runs as float32 while on the CPU (see :meth:`to`).
        note: a one-line remark for the user about how it runs (e.g. that upcast), or None.
    """

    network: FlowTransformer
    config: GeneratorConfig
    info: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    requested_dtype: torch.dtype | None = None
    note: str | None = None

    @property
    def device(self) -> torch.device:
        return self.network.input_proj.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.network.input_proj.weight.dtype

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source else "in-memory"

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> Generator:
        """Move to ``device`` and/or ``dtype``.

        float16 is kept only off the CPU: CPU half-precision kernels overflow to inf/NaN in this network, so
        there it runs in float32 (with :attr:`note` saying so) and goes back to float16 on a GPU.
        """
        if dtype is not None:
            self.requested_dtype = dtype
        target = torch.device(device) if device is not None else self.device
        want = self.requested_dtype or self.dtype
        self.note = None
        if want == torch.float16 and target.type == "cpu":
            want = torch.float32
            self.note = ("float16 on the CPU runs in float32 (half precision overflows there); "
                         "choose bfloat16 to halve memory on the CPU")
            log.warning("%s", self.note)
        self.network.to(device=target, dtype=want)
        # Normalisation statistics stay float32 whatever the weights' dtype.
        self.network.normalizer.float()
        return self


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_generator(path_or_name: str | os.PathLike | None = None, device: str | torch.device | None = None,
                   dtype: torch.dtype | str | None = None) -> Generator:
    """Load a generator checkpoint.

    Args:
        path_or_name: a ``.safetensors`` path, a file name in the ``3dxtalker`` model folder, or None
            for the registered ``generator`` asset.
        device: default CUDA when available, else CPU.
        dtype: ``torch.float32`` (default) / ``bfloat16`` / ``float16``, or their names.
    """
    path = resolve_checkpoint(path_or_name)
    network, config, info = load_network(path)
    if isinstance(dtype, str):
        names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
                 "float16": torch.float16, "fp16": torch.float16}
        if dtype not in names:
            raise X3DError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
        dtype = names[dtype]
    generator = Generator(network, config, info, str(path))
    return generator.to(torch.device(device) if device is not None else default_device(), dtype or torch.float32)


def check_features(config: GeneratorConfig, features: AudioFeatures) -> None:
    """Raise a clear error when features come from other encoders than the checkpoint was trained on."""
    m = config.model
    if features.linguistic_encoder != m.linguistic_encoder or features.linguistic_dim != m.linguistic_dim:
        advice = f"extract features with linguistic='{m.linguistic_encoder}'"
        if m.linguistic_encoder == "ppg":
            from ..audio.encoders.ppg import MEL_ROUTE, ppg_unavailable

            reason = ppg_unavailable()
            if reason is not None:
                advice = f"{reason}: {MEL_ROUTE}"
        raise X3DError(
            f"this generator was trained on '{m.linguistic_encoder}' linguistic features ({m.linguistic_dim}-d) but got "
            f"'{features.linguistic_encoder}' ({features.linguistic_dim}-d); {advice}")
    if features.emotion_encoder != m.emotion_encoder or features.emotion_dim != m.emotion_dim:
        raise X3DError(
            f"this generator was trained on '{m.emotion_encoder}' emotion features ({m.emotion_dim}-d) but got "
            f"'{features.emotion_encoder}' ({features.emotion_dim}-d); extract features with "
            f"emotion='{m.emotion_encoder}'")


def _reference_frames(reference: FlameParams, reference_per_frame: np.ndarray | None, t: int) -> np.ndarray | None:
    if reference_per_frame is None:
        return None
    ref = np.asarray(reference_per_frame, dtype=np.float32)
    if ref.shape != (t, PARAM_DIM):
        raise X3DError(f"reference_per_frame must have shape ({t}, {PARAM_DIM}) to match the audio, got {ref.shape}")
    if not np.all(np.isfinite(ref)):
        raise X3DError("reference_per_frame contains NaN or infinite values")
    return ref


@torch.no_grad()
def generate_sequence(
    generator: Generator,
    reference: FlameParams,
    features: AudioFeatures,
    *,
    steps: int = 32,
    seed: int = 0,
    solver: str = "euler",
    smoothing: tuple[int, int] | None = (7, 2),
    reference_per_frame: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], None] | None = None,
    overlap: int | None = None,
    window_batch: int = 8,
) -> FlameSequence:
    """Generate a FLAME sequence for ``features`` anchored to ``reference``.

    Args:
        generator: from :func:`load_generator`.
        reference: identity frame p_ref (its ``cam``, if any, is repeated on every output frame).
        features: audio features of the whole clip (computed once).
        steps: ODE steps (paper 32).
        seed: seeds the initial noise; same seed, device and dtype -> identical output.
        solver: ``euler`` (paper) or ``heun`` (2 network calls per step).
        smoothing: Savitzky–Golay (window, order) on the output (the mouth channels at most
            :data:`~.smoothing.MOUTH_WINDOW` frames, so closures survive), or None.
        reference_per_frame: optional (T, 284) reference per frame (emotion keyframes): both the
            model's reference input and the base the delta is added to.
        progress: called as ``progress(done, total)`` after every ODE step of every window batch;
            ``total = steps * windows``.
        cancel: called before every ODE step; it aborts by raising its own exception or by
            returning True (then :class:`GenerationCancelled` is raised).
        overlap: frames shared by consecutive windows (default: a fifth of the window).
        window_batch: windows sampled together in one batch.
    Returns:
        (T, 284) absolute parameters at 25 fps.
    """
    config = generator.config
    _check_options(config, features, steps, solver, window_batch)
    t_total = features.num_frames
    ref_frames = _reference_frames(reference, reference_per_frame, t_total)
    ref_vec = reference.to_vector()
    overlap = config.window // 5 if overlap is None else int(overlap)
    plan = plan_windows(t_total, config.window, overlap)
    weights = window_weights(plan)

    network = generator.network
    network.eval()
    amplitude = normalize_amplitude(features.amplitude)
    x0_clip = initial_noise(config, amplitude, seed)
    inputs = _network_inputs(network, features, amplitude, ref_frames)
    times = _ode_times(network, steps, solver, float(config.flow.train_steps), generator.device)
    counter = _StepCounter(steps * len(plan), progress, cancel)

    blend = CrossFade(t_total, PARAM_DIM)
    for b0 in range(0, len(plan), window_batch):
        batch = plan[b0:b0 + window_batch]
        delta = _sample_windows(network, batch, inputs, ref_vec, x0_clip, times, solver, counter, generator.device)
        for (s, _), d, w in zip(batch, delta, weights[b0:b0 + window_batch]):
            blend.add(s, d, w)

    params = blend.result()
    params += ref_vec if ref_frames is None else ref_frames
    if smoothing is not None:
        params = smooth_motion(params, int(smoothing[0]), int(smoothing[1]), config.expression_space)
    cam = None if reference.cam is None else np.repeat(reference.cam[None], t_total, axis=0)
    metadata = {
        "generator": generator.name, "seed": int(seed), "steps": int(steps), "solver": solver,
        "smoothing": list(smoothing) if smoothing is not None else None, "windows": len(plan),
        "window": config.window, "overlap": overlap, "linguistic_encoder": features.linguistic_encoder,
        "emotion_encoder": features.emotion_encoder,
    }
    return FlameSequence(params=params, fps=features.fps, cam=cam, metadata=metadata)


def _check_options(config: GeneratorConfig, features: AudioFeatures, steps: int, solver: str,
                   window_batch: int) -> None:
    check_features(config, features)
    if steps < 1:
        raise X3DError(f"steps must be >= 1, got {steps}")
    if solver not in SOLVERS:
        raise X3DError(f"unknown ODE solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if window_batch < 1:
        raise X3DError(f"window_batch must be >= 1, got {window_batch}")


def initial_noise(config: GeneratorConfig, amplitude: np.ndarray, seed: int) -> np.ndarray:
    """(T, 284) smoothed initial noise x_0 of the whole clip from ``seed`` (drawn on the CPU, so a
    seed gives the same noise on every device); amplitude (T, 1) normalised."""
    noise_gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return smoothed_noise([amplitude], config.flow, noise_gen, "cpu")[0].numpy()


@dataclass(frozen=True)
class _ClipInputs:
    """Whole-clip network inputs, sliced per window: linguistic (T, D_l), amplitude (T, 1 or 640),
    emotion (T, D_e), reference per frame (T, 284) or None."""

    linguistic: np.ndarray
    amplitude: np.ndarray
    emotion: np.ndarray
    reference: np.ndarray | None


def _network_inputs(network: FlowTransformer, features: AudioFeatures, amplitude: np.ndarray,
                    ref_frames: np.ndarray | None) -> _ClipInputs:
    """The amplitude the network reads: normalised frame amplitude, or the raw sample envelope as
    (T, 640) frames (a view, no copy) for the authors' envelope path."""
    if network.amplitude_channels != 1:
        amplitude = features.envelope.reshape(features.num_frames, network.amplitude_channels)
    return _ClipInputs(features.linguistic, amplitude, features.emotion, ref_frames)


def _ode_times(network: FlowTransformer, steps: int, solver: str, scale: float,
               device: torch.device) -> list[TimeConditions]:
    """Time conditions of the ODE times k_i = i / steps * scale (i = 0 .. steps - 1, plus the end
    point for Heun), once per clip: the same for every window (a (1,) batch broadcasts)."""
    count = steps + 1 if solver == "heun" else steps
    dt = 1.0 / steps
    return [network.encode_time(torch.full((1,), i * dt * scale, device=device)) for i in range(count)]


class _StepCounter:
    """Progress over ``total`` window-steps and the cancel check before each step."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None, cancel: Callable[[], None] | None):
        self.total, self.done, self.progress, self.cancel = total, 0, progress, cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise GenerationCancelled("generation cancelled")

    def advance(self, windows: int) -> None:
        self.done += windows
        if self.progress is not None:
            self.progress(self.done, self.total)


def _sample_windows(network: FlowTransformer, batch: list[tuple[int, int]], inputs: _ClipInputs,
                    ref_vec: np.ndarray, x0_clip: np.ndarray, times: list[TimeConditions], solver: str,
                    counter: _StepCounter, device: torch.device) -> np.ndarray:
    """Integrate the flow ODE for one batch of windows; returns their deltas (B, L, 284) float32."""

    def stack(arr: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.stack([arr[s:e] for s, e in batch])).to(device)

    if inputs.reference is None:
        ref_in = torch.from_numpy(ref_vec).to(device).expand(len(batch), 1, PARAM_DIM)
    else:
        ref_in = stack(inputs.reference)
    cond = network.encode_conditions(ref_in, stack(inputs.linguistic), stack(inputs.amplitude),
                                     stack(inputs.emotion))
    x = stack(x0_clip).float()
    steps = len(times) - (solver == "heun")
    dt = 1.0 / steps
    for i in range(steps):
        counter.check()
        v = network.velocity(x, times[i], cond).float()
        if solver == "heun":
            v = 0.5 * (v + network.velocity(x + dt * v, times[i + 1], cond).float())
        x = x + dt * v
        counter.advance(len(batch))
    return network.normalizer.denormalize_delta(x).cpu().numpy()


def build_generator(config: GeneratorConfig, device: str | torch.device = "cpu") -> Generator:
    """A randomly initialised generator (tests, benchmarks)."""
    return Generator(FlowTransformer(config.model).eval(), config).to(torch.device(device))
