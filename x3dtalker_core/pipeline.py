"""The main job end to end: portrait (or reference parameters) + speech -> FLAME animation -> files.

Data flows one way (SPEC §9): image -> reference :class:`FlameParams` · audio -> :class:`AudioFeatures`
· generator(reference, features, emotion) -> :class:`FlameSequence` · head-pose plug-in superimposed
· renderer -> preview.mp4 / depth.mp4 / mesh.glb · params.npz · report.json. The ``generate`` command
and the ComfyUI nodes are two front doors onto these same functions.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from . import __version__
from .errors import X3DError
from .io_utils import atomic_path
from .params import EXP, JAW_POSE, POSE, FlameParams, FlameSequence

log = logging.getLogger(__name__)

StageProgress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``."""


@dataclass(frozen=True)
class PoseOptions:
    """Head-pose plug-in (paper §3.3, SPEC §5).

    Attributes:
        style: a preset name (``calm``, ``gentle_sway``, ...) or a free-text style for the LLM; None = the
            model's own head motion only.
        mode: ``superimpose`` (added to the predicted rotation) or ``center``.
        strength: scales preset curves.
        llm_url, llm_model: an OpenAI-compatible chat endpoint (Ollama, LM Studio, vLLM, OpenAI).
        llm_key_env: environment variable holding the API key (never stored).
        llm_local: a local transformers chat-model folder instead of an endpoint.
        fallback: preset used when the LLM reply is unusable.
    """

    style: str | None = None
    mode: str = "superimpose"
    strength: float = 1.0
    llm_url: str | None = None
    llm_model: str | None = None
    llm_key_env: str = "OPENAI_API_KEY"
    llm_local: str | None = None
    fallback: str = "calm"


@dataclass(frozen=True)
class EmotionOptions:
    """Emotion plug-in: one emotion (``emotion`` + ``intensity``) or keyframes ``"0:neutral:0,2.5:happy:1.5"``."""

    emotion: str | None = None
    intensity: float | str = "moderate"
    keys: str | None = None
    templates: str | None = None


@dataclass(frozen=True)
class GenerateOptions:
    """Everything the main job can be told.

    Attributes:
        checkpoint: generator checkpoint path or name; None = the installed default.
        steps, seed, solver: ODE sampling (paper: 32 Euler steps).
        smoothing: Savitzky–Golay (window, order), or None.
        backend: image -> FLAME backend (``landmarks``, ``emoca``, ``params``).
        face_index: which face in a photo with several (0 = largest).
        device: ``cpu``, ``cuda``, ... (default: CUDA when available).
        dtype: generator precision, ``float32``, ``bfloat16`` or ``float16``.
        render: render settings, or None to write parameters only.
    """

    checkpoint: str | None = None
    steps: int = 32
    seed: int = 0
    solver: str = "euler"
    smoothing: tuple[int, int] | None = (7, 2)
    backend: str = "landmarks"
    face_index: int | None = None
    device: str | None = None
    dtype: str = "float32"
    emotion: EmotionOptions = field(default_factory=EmotionOptions)
    pose: PoseOptions = field(default_factory=PoseOptions)
    render: Any = "default"  # RenderSettings | None; "default" = RenderSettings()


def reference_from_source(source: Any, backend: str = "landmarks", face_index: int | None = None,
                          progress: Callable | None = None) -> tuple[FlameParams, dict]:
    """The identity frame p_ref from a photo (path or array), a parameter file or a dataset folder."""
    from .reconstruct import reconstruct_reference

    if isinstance(source, (str, Path)) and (Path(source).suffix.lower() == ".npz" or Path(source).is_dir()):
        backend = "params"
    result = reconstruct_reference(source, backend=backend, face_index=face_index, progress=progress)
    # summary() carries the photo's face crop and size: the renderer's 'photo' camera needs them.
    return result.params, result.summary()


def emotion_control(options: EmotionOptions, flame_model=None):
    """The :class:`~x3dtalker_core.control.EmotionControl` the options ask for, or None."""
    if not options.emotion and not options.keys:
        return None
    from .control import EmotionControl
    from .control.facs import resolve_templates

    templates = resolve_templates(options.templates, model=flame_model)
    if options.keys:
        return EmotionControl.from_text(options.keys, templates)
    return EmotionControl.constant(options.emotion, options.intensity, templates)


def reference_frames(reference: FlameParams, num_frames: int, emotion=None, fps: float = 25.0) -> np.ndarray | None:
    """(T, 284) per-frame references with ``emotion`` applied to the expression, or None without one.

    The generator both conditions on these and adds its deltas to them (paper Eq. 9, per frame).
    """
    if emotion is None:
        return None
    from .control import apply_emotion

    frames = np.repeat(reference.to_vector()[None], num_frames, axis=0)
    frames[:, EXP] = apply_emotion(reference.exp, emotion, num_frames, fps)
    return frames


def generate_motion(
    generator,
    reference: FlameParams,
    features,
    *,
    steps: int = 32,
    seed: int = 0,
    solver: str = "euler",
    smoothing: tuple[int, int] | None = (7, 2),
    emotion=None,
    head_pose=None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], Any] | None = None,
    flame_model=None,
) -> FlameSequence:
    """Reference + audio features (+ emotion control, + head-pose trajectory) -> FLAME sequence.

    The head-pose trajectory is combined with the *predicted* head rotation after sampling (paper
    §3.3: superimposed, never replacing it; ``center`` mode as the trajectory says). With
    ``flame_model``, the predicted expression motion is put into that model's expression space
    (:func:`expression_for_model`).
    """
    from .model import generate_sequence

    space = generator.config.expression_space
    per_frame = reference_frames(reference, features.num_frames, emotion, features.fps)
    base = per_frame if per_frame is not None else reference.to_vector()[None]
    # The network is conditioned on the reference in the space it speaks; the motion is added back to
    # the reference in the model's own space.
    network_base = reference_for_network(base, space, flame_model)
    network_reference = replace(reference, exp=network_base[0, EXP].copy())
    seq = generate_sequence(
        generator, network_reference, features, steps=steps, seed=seed, solver=solver, smoothing=smoothing,
        reference_per_frame=None if per_frame is None else network_base, progress=progress, cancel=cancel,
    )
    seq = expression_for_model(seq, network_base, space, flame_model, model_base=base)
    metadata = dict(seq.metadata)
    if "reference" in reference.metadata:
        metadata["reference"] = reference.metadata["reference"]
    if emotion is not None:
        metadata["emotion_control"] = emotion.to_dict()
    params = seq.params
    if head_pose is not None:
        params = params.copy()
        params[:, POSE] = head_pose.fit_length(len(seq)).apply_to_pose(params[:, POSE], reference.head_pose)
        metadata["head_pose"] = dict(head_pose.metadata)
    return FlameSequence(params, seq.fps, seq.cam, metadata)


def reference_for_network(base: np.ndarray, space: str, flame_model=None) -> np.ndarray:
    """The reference frame(s) ``base`` (T or 1, 284), whose expression is in the model's own space, as a
    checkpoint speaking ``space`` must be given them (:func:`~.flame.arkit.expression_in_space`); a copy
    of ``base`` when the spaces agree or there is no model."""
    out = np.array(base, np.float32, copy=True)
    if flame_model is None:
        return out
    from .flame.arkit import expression_in_space

    out[:, EXP] = expression_in_space(out[:, EXP], space, flame_model)
    return out


def expression_for_model(seq: FlameSequence, base: np.ndarray, space: str, flame_model=None,
                         model_base: np.ndarray | None = None) -> FlameSequence:
    """The generated expression motion in ``flame_model``'s expression space.

    A checkpoint's expression channels speak ``space`` (its config's ``expression_space``): the sequence
    is its motion added to ``base`` (T or 1, 284), the reference it was conditioned on, in that space.
    Only the predicted delta is converted, with the model's cached ARKit map
    (:func:`~.flame.arkit.convert_expression`), and added to ``model_base`` (the same reference in the
    model's own space; default ``base``); ``metadata["expression_space"]`` says what the result speaks.
    Without a model, or when the spaces agree, the sequence passes through.
    """
    from .flame.arkit import convert_expression, expression_space_of

    metadata = {**seq.metadata, "expression_space": space}
    target = space if flame_model is None else expression_space_of(flame_model)
    if target == space:
        return FlameSequence(seq.params, seq.fps, seq.cam, metadata)
    model_base = base if model_base is None else model_base
    params = seq.params.copy()
    delta = params[:, EXP] - np.broadcast_to(base[:, EXP], params[:, EXP].shape)
    converted, jaw = convert_expression(delta, params[:, JAW_POSE], space, flame_model)
    params[:, EXP] = model_base[:, EXP] + converted
    params[:, JAW_POSE] = jaw
    metadata.update(expression_space=target, expression_converted_from=space)
    return FlameSequence(params, seq.fps, seq.cam, metadata)


def head_pose_trajectory(options: PoseOptions, amplitude: np.ndarray, num_frames: int, seed: int = 0):
    """The plug-in head-pose trajectory for a clip, or None when no style is asked for."""
    if not options.style:
        return None
    from .control import PRESETS, AudioCues, preset_trajectory

    cues = AudioCues.from_amplitude(amplitude)
    key = options.style.strip().lower().replace(" ", "_").replace("-", "_")
    if key in PRESETS:
        traj = preset_trajectory(key, cues, seed=seed, strength=options.strength, mode=options.mode)
    else:
        from .control import OpenAIChatClient, TransformersChatBackend, pose_from_llm

        if options.llm_local:
            backend = TransformersChatBackend(options.llm_local)
        elif options.llm_url and options.llm_model:
            backend = OpenAIChatClient(options.llm_url, options.llm_model, api_key_env=options.llm_key_env)
        else:
            raise X3DError(
                f"pose style {options.style!r} is not a preset ({', '.join(sorted(PRESETS))}); to describe a style "
                "in words, give an LLM endpoint (--llm-url and --llm-model) or a local model folder (--llm-local)"
            )
        traj = pose_from_llm(options.style, cues, backend, seed=seed, fallback_preset=options.fallback,
                             mode=options.mode)
    return traj.fit_length(num_frames)


TIMINGS: dict[str, str] = {
    "reference_s": "photo (or parameter file) -> reference FLAME frame",
    "load_generator_s": "generator checkpoint loaded",
    "audio_s": "speech decoded and encoded to features",
    "flame_model_s": "FLAME model loaded",
    "emotion_s": "emotion control built",
    "head_pose_s": "head-pose trajectory (preset or LLM)",
    "generate_s": "flow-matching sampling, expression space, controls applied",
    "params_s": "params.npz written",
    "export_s": "ARKit-52 solve and livelink.csv",
    "render_s": "render_to_files in all (FLAME meshes, framing, render + encode, mesh files); 0 without rendering",
    "render_encode_s": "part of render_s: preview/depth frames rendered and encoded",
    "glb_s": "part of render_s: mesh files (GLB, OBJ) written",
    "total_s": "the whole job, up to writing report.json",
}
"""``report.json``'s ``timings``: key -> what it measures, in job order (wall-clock seconds; every key is
always present, 0 for a stage that did not run). The stages from ``reference_s`` to ``render_s`` follow one
another, so they add up to at most ``total_s``; ``render_encode_s`` and ``glb_s`` are parts of ``render_s``."""

SEQUENTIAL_STAGES = tuple(k for k in TIMINGS if k not in ("render_encode_s", "glb_s", "total_s"))
"""The :data:`TIMINGS` keys that do not overlap (their sum is at most ``total_s``)."""


class StageClock:
    """Wall-clock seconds of the main job's stages (:data:`TIMINGS`), from creation on."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = dict.fromkeys(TIMINGS, 0.0)

    @contextmanager
    def stage(self, key: str) -> Iterator[None]:
        """Time the ``with`` body as ``key`` (added to what the key already holds)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(key, time.perf_counter() - t0)

    def add(self, key: str, seconds: float) -> None:
        if key not in self.seconds:
            raise KeyError(f"{key!r} is not a main-job timing ({', '.join(TIMINGS)})")
        self.seconds[key] += float(seconds)

    def timings(self) -> dict[str, float]:
        """Every :data:`TIMINGS` key in seconds (4 decimals), ``total_s`` = now - creation."""
        self.seconds["total_s"] = time.perf_counter() - self.started
        return {k: round(v, 4) for k, v in self.seconds.items()}


def smoothing_option(window: int, order: int = 2) -> tuple[int, int] | None:
    """The Savitzky–Golay ``smoothing`` option from a (window, order) pair: None when ``window`` <= 1.

    Checked up front with the smoother's own rule (:func:`~.model.smoothing.savgol_smooth`, on an empty
    track), so a bad pair fails before sampling; an even window is fine (the smoother makes it odd).
    """
    from .model.smoothing import savgol_smooth

    window, order = int(window), int(order)
    if window <= 1:
        return None
    savgol_smooth(np.zeros((0, 1), np.float32), window, order)
    return window, order


def stage_progress(progress: StageProgress | None, stage: str) -> Callable[[int, int], None] | None:
    """``progress(done, total)`` for one stage of a :data:`StageProgress` callback (None passes through)."""
    return None if progress is None else (lambda done, total: progress(stage, done, total))


def audio_features_for(generator, audio_source: Any, progress: Callable[[int, int], None] | None = None,
                       cancel: Callable[[], None] | None = None):
    """(16 kHz waveform (N,), :class:`~.audio.AudioFeatures`) of ``audio_source``, encoded with the encoders
    ``generator`` was trained with."""
    from .audio import extract_features, load_audio

    model_cfg = generator.config.model
    waveform = load_audio(audio_source)
    features = extract_features(waveform, linguistic=model_cfg.linguistic_encoder, emotion=model_cfg.emotion_encoder,
                                progress=progress, cancel=cancel)
    return waveform, features


def job_metadata(sequence: FlameSequence, generator, options: GenerateOptions, reference_source: Any,
                 reference_info: dict, emotion, flame_model) -> FlameSequence:
    """``sequence`` with what made it in its metadata (code version, checkpoint, encoders, sampling,
    reference, emotion, FLAME model): what ``params.npz`` carries."""
    model_cfg = generator.config.model
    source = str(reference_source) if isinstance(reference_source, (str, Path)) else type(reference_source).__name__
    metadata = {
        **sequence.metadata,
        "code_version": __version__,
        "checkpoint": generator.name,
        "encoders": {"linguistic": model_cfg.linguistic_encoder, "emotion": model_cfg.emotion_encoder},
        "steps": options.steps, "seed": options.seed, "solver": options.solver,
        "reference": {**sequence.metadata.get("reference", {}), **reference_info, "source": source},
        "emotion": None if emotion is None else emotion.to_dict(),
        "flame_model": flame_model.source,
    }
    return FlameSequence(sequence.params, sequence.fps, sequence.cam, metadata)


def write_outputs(sequence: FlameSequence, flame_model, out: Path, options: GenerateOptions, waveform: np.ndarray,
                  audio_source: Any, clock: StageClock, progress: StageProgress | None = None,
                  cancel: Callable[[], None] | None = None) -> tuple[list[str], dict, dict | None]:
    """Write ``params.npz``, ``livelink.csv`` and (unless ``options.render`` is None) the rendered files.

    Returns:
        (every file written, the :func:`~.export.export_files` result, the render report or None).
    """
    from .export import export_files  # ARKit-52 take for Unreal/MetaHuman (issue 15)
    from .render.files import RenderSettings, render_to_files

    out.mkdir(parents=True, exist_ok=True)
    with clock.stage("params_s"):
        files = [str(sequence.save(out / "params.npz"))]
    with clock.stage("export_s"):
        exported = export_files(sequence, flame_model, out, ("livelink",))
    files += list(exported["files"].values())

    settings = RenderSettings() if options.render == "default" else options.render
    if settings is None:
        return files, exported, None
    with clock.stage("render_s"):
        rendered = render_to_files(
            sequence, out, settings, audio=waveform, show_progress=progress is None,
            progress=stage_progress(progress, "render"), flame_model=flame_model,
            should_stop=None if cancel is None else (lambda: bool(cancel())),
            sources={"audio": str(audio_source) if isinstance(audio_source, (str, Path)) else None},
        )
    clock.add("render_encode_s", rendered["timings"].get("render_encode_s", 0.0))
    clock.add("glb_s", rendered["timings"].get("export_s", 0.0))
    return files + rendered["files"], exported, rendered


def job_report(sequence: FlameSequence, generator, flame_model, options: GenerateOptions, timings: dict[str, float],
               head_pose, exported: dict, rendered: dict | None, files: list[str]) -> dict:
    """The ``report.json`` record of one main job (``sequence`` carries :func:`job_metadata`).

    ``timings`` holds every :data:`TIMINGS` key; ``real_time_factor`` is ``total_s`` over the clip's duration
    (below 1 = faster than real time).
    """
    frames = sequence.num_frames
    duration = frames / sequence.fps
    meta = sequence.metadata
    return {
        "frames": frames,
        "duration_s": duration,
        "fps": sequence.fps,
        "timings": timings,
        "real_time_factor": timings["total_s"] / max(duration, 1e-9),
        "generate_fps": frames / max(timings["generate_s"], 1e-9),
        "end_to_end_fps": frames / max(timings["total_s"], 1e-9),
        "device": str(generator.device),
        "dtype": str(generator.dtype).replace("torch.", ""),
        **({"dtype_note": generator.note} if getattr(generator, "note", None) else {}),
        "assets": {"checkpoint": generator.name, "flame_model": flame_model.source,
                   "flame_is_development_head": bool(flame_model.is_dev_model), "encoders": meta["encoders"]},
        "options": _jsonable(asdict(options)),
        "reference": meta["reference"],
        "emotion": meta["emotion"],
        "head_pose": None if head_pose is None else dict(head_pose.metadata),
        "arkit": exported["arkit"],
        "render": None if rendered is None else {k: rendered[k] for k in ("width", "height", "camera", "wan")},
        "files": files,
    }


def run_generate(
    reference_source: Any,
    audio_source: Any,
    out: str | Path,
    options: GenerateOptions = GenerateOptions(),
    progress: StageProgress | None = None,
    cancel: Callable[[], None] | None = None,
) -> dict:
    """Run the main job: ``params.npz``, ``livelink.csv``, ``preview.mp4``, ``depth.mp4``, ``mesh.glb``, ``report.json``.

    Args:
        reference_source: portrait image (path or (H, W, 3) array), a parameter ``.npz`` or a dataset folder.
        audio_source: speech/song file path, ComfyUI AUDIO dict or 16 kHz array.
        out: output folder.
        progress: ``progress(stage, done, total)`` for the stages audio, generate, render.
        cancel: called between steps; raise from it to abort.

    Returns:
        The report (also written to ``report.json``; its ``timings`` are :data:`TIMINGS`).
    """
    from .flame import load_flame_model
    from .model import load_generator

    clock = StageClock()
    out = Path(out)
    with clock.stage("reference_s"):
        reference, reference_info = reference_from_source(reference_source, options.backend, options.face_index)
    with clock.stage("load_generator_s"):
        generator = load_generator(options.checkpoint, device=options.device, dtype=options.dtype)
    with clock.stage("audio_s"):
        waveform, features = audio_features_for(generator, audio_source, stage_progress(progress, "audio"), cancel)
    with clock.stage("flame_model_s"):
        flame = load_flame_model()
    with clock.stage("emotion_s"):
        emotion = emotion_control(options.emotion, flame)
    with clock.stage("head_pose_s"):
        trajectory = head_pose_trajectory(options.pose, features.amplitude, features.num_frames, options.seed)
    with clock.stage("generate_s"):
        sequence = generate_motion(
            generator, reference, features, steps=options.steps, seed=options.seed, solver=options.solver,
            smoothing=options.smoothing, emotion=emotion, head_pose=trajectory,
            progress=stage_progress(progress, "generate"), cancel=cancel, flame_model=flame,
        )
    sequence = job_metadata(sequence, generator, options, reference_source, reference_info, emotion, flame)
    files, exported, rendered = write_outputs(sequence, flame, out, options, waveform, audio_source, clock,
                                              progress, cancel)
    report = job_report(sequence, generator, flame, options, clock.timings(), trajectory, exported, rendered, files)
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=2))
    return report


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
