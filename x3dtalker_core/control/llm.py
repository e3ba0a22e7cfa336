"""Language-model head-pose control (paper §3.3, App. E.1): style text + audio summary -> pose curves.

The model is asked for a small JSON object of curve expressions over time ``t`` (seconds)::

    {"pitch": "<expr>", "yaw": "<expr>", "roll": "<expr>"}

in degrees, written in the whitelisted curve language of :mod:`.dsl`. The reply is treated as data:
the JSON object is cut out of the text, each expression is parsed by our own evaluator, and the
curves are clamped, rate-limited and smoothed (:func:`.pose.condition_angles`). An unusable reply, a
timeout or an HTTP error raises :class:`LLMError` with a one-line reason, or — when asked to — falls
back to a preset with that reason recorded in the trajectory's metadata.

Backends:

* :class:`OpenAIChatClient`: any OpenAI-compatible ``/chat/completions`` endpoint (Ollama, LM Studio,
  vLLM, OpenAI). The API key is read from an environment variable at call time and never stored.
* :class:`TransformersChatBackend`: a local ``transformers`` causal-LM folder (no network).

Replies are cached on disk per (messages, backend identity, seed, temperature).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import __version__
from ..errors import X3DError
from ..io_utils import atomic_path
from .cues import AudioCues
from .dsl import BUILTIN_FUNCTIONS, DSLError
from .pose import AXES, PoseLimits, PoseTrajectory, trajectory_from_expressions
from .presets import preset_trajectory

log = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
MAX_REPLY_BYTES = 1_000_000
MAX_CONTENT_CHARS = 20_000
PROMPT_VERSION = 1


class LLMError(X3DError):
    """The language model could not be reached, or its reply cannot be used."""


SYSTEM_PROMPT = """\
You design head-pose motion for a 3D talking head. Answer with ONE JSON object and nothing else:
{{"pitch": "<expression>", "yaw": "<expression>", "roll": "<expression>"}}
Each value is a maths expression of time t (seconds, 0 <= t <= duration) giving an angle in DEGREES:
- pitch: nod; positive tips the face DOWN, negative looks up. Keep within +-{pitch:g}.
- yaw: turn; positive turns toward the speaker's left. Keep within +-{yaw:g}.
- roll: tilt; positive tilts toward the speaker's right shoulder. Keep within +-{roll:g}.
The motion is ADDED on top of the natural head motion the animation model already produces,
so describe the style, not every small movement. Keep it smooth (slower than {speed:g} deg/s).
Allowed in expressions, nothing else: numbers, t, pi, e, duration, bpm, + - * / % **,
parentheses, and the functions {functions}.
Audio helpers (each takes a time, usually t): env(t) loudness 0..1, onset(t) syllable onsets 0..1,
voice(t) 1 while speaking and 0 in pauses, beat(t) a short pulse 0..1 on each speech beat.
Example (gentle sway with nods on the beats):
{{"pitch": "4*beat(t)*voice(t) + 1.5*sin(2*pi*0.1*t)", "yaw": "6*sin(2*pi*0.15*t)*(0.7 + 0.3*env(t))",
 "roll": "3*sin(2*pi*0.15*t + 0.6)"}}"""

USER_PROMPT = """\
Presentation style: {style}
Audio summary (JSON): {summary}
Write the head-pose expressions for this style and audio."""


def build_messages(style: str, cues: AudioCues, limits: PoseLimits = PoseLimits()) -> list[dict[str, str]]:
    """The chat messages sent to the model (the documented prompt template, filled in)."""
    style = " ".join(str(style).split())
    if not style:
        raise X3DError("the head-pose style text is empty; describe a style, e.g. 'calm, confident presenter'")
    if len(style) > 2000:
        raise X3DError(f"the head-pose style text is {len(style)} characters long; keep it under 2000")
    system = SYSTEM_PROMPT.format(
        pitch=limits.pitch_deg, yaw=limits.yaw_deg, roll=limits.roll_deg, speed=limits.max_speed_deg_s,
        functions=", ".join(BUILTIN_FUNCTIONS),
    )
    user = USER_PROMPT.format(style=style, summary=json.dumps(cues.summary(), separators=(",", ":")))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# -- reply parsing ---------------------------------------------------------------------------
def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (models often wrap it in prose or code fences)."""
    if not isinstance(text, str):
        raise LLMError("the model's reply is not text")
    if len(text) > MAX_CONTENT_CHARS:
        raise LLMError(f"the model's reply is {len(text)} characters long (limit {MAX_CONTENT_CHARS})")
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            return obj
        start = text.find("{", start + 1)
    raise LLMError("the model's reply contains no JSON object with pitch/yaw/roll expressions")


def parse_pose_reply(text: str) -> dict[str, str]:
    """Validate a reply's JSON: pitch/yaw/roll strings (numbers accepted), nothing executable."""
    obj = extract_json_object(text)
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    found = {}
    for axis in AXES:
        value = lowered.get(axis)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise LLMError(f"'{axis}' in the model's reply must be an expression string, got {type(value).__name__}")
        found[axis] = str(value)
    if not found:
        raise LLMError(f"the model's JSON has none of pitch/yaw/roll (keys: {sorted(lowered)[:10]})")
    return found


# -- backends --------------------------------------------------------------------------------
class ChatBackend(Protocol):
    """Anything that answers chat messages with text."""

    def identity(self) -> str:
        """A stable description for caching and provenance (no secrets)."""

    def complete(self, messages: list[dict[str, str]], seed: int, temperature: float, max_tokens: int) -> str:
        """The assistant's reply text."""


@dataclass
class OpenAIChatClient:
    """An OpenAI-compatible chat-completions endpoint.

    Attributes:
        base_url: e.g. ``http://localhost:11434/v1`` (Ollama), ``http://localhost:1234/v1`` (LM Studio),
            ``http://localhost:8000/v1`` (vLLM), ``https://api.openai.com/v1``; a URL that already ends
            in ``/chat/completions`` is used as it is.
        model: the model name the endpoint serves.
        api_key_env: name of the environment variable holding the key (read at call time, never
            stored; unset means no ``Authorization`` header, fine for local servers).
        timeout_s: total time allowed for one request (connect, wait and read).
        max_reply_bytes: larger response bodies are refused.
    """

    base_url: str
    model: str
    api_key_env: str = DEFAULT_API_KEY_ENV
    timeout_s: float = 60.0
    max_reply_bytes: int = MAX_REPLY_BYTES

    def __post_init__(self) -> None:
        url = str(self.base_url).strip()
        if not url.startswith(("http://", "https://")):
            raise X3DError(f"LLM URL must start with http:// or https://, got '{self.base_url}'")
        if not str(self.model).strip():
            raise X3DError("no LLM model name given (e.g. 'llama3.1:8b' for Ollama)")
        self.base_url = url.rstrip("/")

    @property
    def endpoint(self) -> str:
        return self.base_url if self.base_url.endswith("/chat/completions") else self.base_url + "/chat/completions"

    def identity(self) -> str:
        return f"openai-compatible:{self.endpoint}#{self.model}"

    def complete(
        self, messages: list[dict[str, str]], seed: int = 0, temperature: float = 0.2, max_tokens: int = 600
    ) -> str:
        body = json.dumps({
            "model": self.model, "messages": messages, "temperature": float(temperature),
            "seed": int(seed), "max_tokens": int(max_tokens), "stream": False,
        }).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": f"x3dtalker/{__version__}"}
        key = os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")
        deadline = time.monotonic() + self.timeout_s
        where = f"LLM endpoint {self.endpoint}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = self._read_bounded(response, deadline, where)
        except urllib.error.HTTPError as exc:
            detail = ""
            try:
                detail = exc.read(300).decode("utf-8", "replace").strip().replace("\n", " ")
            except Exception:  # the error body is only a hint
                pass
            suffix = f": {detail[:200]}" if detail else ""
            raise LLMError(f"{where} answered HTTP {exc.code} {exc.reason}{suffix}") from None
        except (socket.timeout, TimeoutError):
            raise LLMError(f"{where} did not answer within {self.timeout_s:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (socket.timeout, TimeoutError)):
                raise LLMError(f"{where} did not answer within {self.timeout_s:g} s") from None
            raise LLMError(f"cannot reach {where}: {exc.reason}") from None
        except (ConnectionError, OSError) as exc:
            raise LLMError(f"connection to {where} failed: {exc}") from None
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise LLMError(
                f"{where} returned a body that is not JSON (is the URL an OpenAI-compatible /v1 API?)"
            ) from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"{where} returned JSON without choices[0].message.content") from None
        if not isinstance(content, str):
            raise LLMError(f"{where} returned a non-text message content")
        return content

    def _read_bounded(self, response, deadline: float, where: str) -> bytes:
        """Read at most ``max_reply_bytes`` before the deadline (a trickling server cannot stall us)."""
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.max_reply_bytes:
            raise LLMError(f"{where} sent a {int(length)}-byte reply; the limit is {self.max_reply_bytes} bytes")
        chunks, total = [], 0
        while True:
            if time.monotonic() > deadline:
                raise LLMError(f"{where} did not finish its reply within {self.timeout_s:g} s")
            chunk = response.read(65536)
            if not chunk:
                break
            total += len(chunk)
            if total > self.max_reply_bytes:
                raise LLMError(f"{where} sent more than {self.max_reply_bytes} bytes; reply refused")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass
class TransformersChatBackend:
    """A local ``transformers`` causal language model folder (config, tokenizer, weights).

    Loaded lazily with ``local_files_only=True``; uses the tokenizer's chat template when it has one.
    """

    model_dir: str | Path
    device: str = "cpu"
    max_input_tokens: int = 4096
    _model: Any = field(default=None, init=False, repr=False)
    _tokenizer: Any = field(default=None, init=False, repr=False)

    def identity(self) -> str:
        path = Path(self.model_dir)
        stamp = ""
        cfg = path / "config.json"
        if cfg.is_file():
            stamp = hashlib.sha256(cfg.read_bytes()).hexdigest()[:12]
        return f"transformers:{path.resolve()}#{stamp}"

    def _load(self) -> None:
        if self._model is not None:
            return
        path = Path(self.model_dir)
        if not (path / "config.json").is_file():
            raise X3DError(f"local LLM folder {path} has no config.json (save a model there with save_pretrained)")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise X3DError("the local LLM backend needs the 'transformers' package: pip install transformers") from None
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self._model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).to(self.device).eval()
        except (OSError, ValueError) as exc:
            raise X3DError(f"cannot load the local LLM from {path}: {str(exc).splitlines()[0]}") from None

    def complete(
        self, messages: list[dict[str, str]], seed: int = 0, temperature: float = 0.2, max_tokens: int = 600
    ) -> str:
        import torch

        self._load()
        tok = self._tokenizer
        if getattr(tok, "chat_template", None):
            prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            prompt = "\n\n".join(f"{m['role'].upper()}:\n{m['content']}" for m in messages) + "\n\nASSISTANT:\n"
        tok.truncation_side = "left"  # keep the end of the prompt (the request) when it is too long
        enc = tok(prompt, return_tensors="pt", truncation=True, max_length=self.max_input_tokens)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        generator_kwargs: dict[str, Any] = {"max_new_tokens": int(max_tokens)}
        if temperature > 0:
            generator_kwargs.update(do_sample=True, temperature=float(temperature))
        else:
            generator_kwargs.update(do_sample=False)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        if pad is not None:
            generator_kwargs["pad_token_id"] = pad
        torch.manual_seed(int(seed))
        with torch.no_grad():
            out = self._model.generate(**enc, **generator_kwargs)
        new = out[0, enc["input_ids"].shape[1]:]
        return tok.decode(new, skip_special_tokens=True)


# -- cache -----------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "x3dtalker" / "llm"


def cache_key(messages: list[dict[str, str]], backend_identity: str, seed: int, temperature: float) -> str:
    blob = json.dumps(
        {"v": PROMPT_VERSION, "messages": messages, "backend": backend_identity, "seed": int(seed),
         "temperature": round(float(temperature), 6)},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _cache_read(folder: Path | None, key: str) -> str | None:
    if folder is None:
        return None
    path = folder / f"{key}.json"
    try:
        return json.loads(path.read_text())["reply"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache_write(folder: Path | None, key: str, reply: str, backend_identity: str) -> None:
    if folder is None:
        return
    try:
        with atomic_path(folder / f"{key}.json") as tmp:
            tmp.write_text(json.dumps({"reply": reply, "backend": backend_identity}))
    except OSError as exc:  # a read-only cache must not break generation
        log.warning("could not write the LLM reply cache in %s: %s", folder, exc)


# -- the whole step --------------------------------------------------------------------------
def pose_from_llm(
    style: str,
    cues: AudioCues,
    backend: ChatBackend,
    seed: int = 0,
    temperature: float = 0.2,
    max_tokens: int = 600,
    on_error: str = "fallback",
    fallback_preset: str = "calm",
    mode: str = "superimpose",
    limits: PoseLimits = PoseLimits(),
    cache_dir: str | Path | None = "default",
) -> PoseTrajectory:
    """A head-pose trajectory for ``style`` from a language model.

    Args:
        style: the presentation style, e.g. "energetic keynote, confident".
        cues: the clip's audio cues (fix the number of frames; summarised for the prompt).
        backend: :class:`OpenAIChatClient`, :class:`TransformersChatBackend` or any :class:`ChatBackend`.
        seed, temperature, max_tokens: sampling settings (seed also keys the cache).
        on_error: ``fallback`` (use ``fallback_preset`` and record why in ``metadata["warning"]``)
            or ``fail`` (raise :class:`LLMError`).
        mode: combination mode of the result.
        cache_dir: reply cache folder; ``"default"`` = ``$XDG_CACHE_HOME/x3dtalker/llm``, None = no cache.
    """
    if on_error not in ("fallback", "fail"):
        raise X3DError(f"on_error must be 'fallback' or 'fail', got '{on_error}'")
    messages = build_messages(style, cues, limits)
    folder = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
    identity = backend.identity()
    key = cache_key(messages, identity, seed, temperature)
    meta = {"source": "llm", "backend": identity, "style": " ".join(style.split()), "seed": int(seed)}
    try:
        reply = _cache_read(folder, key)
        cached = reply is not None
        if reply is None:
            reply = backend.complete(messages, seed=seed, temperature=temperature, max_tokens=max_tokens)
        try:
            expressions = parse_pose_reply(reply)
            trajectory = trajectory_from_expressions(
                expressions, cues, limits, mode=mode, metadata={**meta, "cached": cached}
            )
        except DSLError as exc:
            raise LLMError(f"the model's curve expression is unusable: {exc}") from None
        if not cached:
            _cache_write(folder, key, reply, identity)
        return trajectory
    except LLMError as exc:
        if on_error == "fail":
            raise
        warning = f"{exc}; used the '{fallback_preset}' preset instead"
        log.warning("head-pose LLM: %s", warning)
        fallback = preset_trajectory(fallback_preset, cues, seed=seed, mode=mode, limits=limits)
        return PoseTrajectory(
            fallback.angles, fallback.fps, fallback.mode, fallback.deviation_scale,
            {**fallback.metadata, "requested": meta, "warning": warning},
        )
