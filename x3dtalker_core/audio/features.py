"""The :class:`AudioFeatures` bundle: everything the generator needs from one clip, computed once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from ..errors import InvalidFileError, X3DError
from ..io_utils import save_npz

FORMAT_VERSION = 1


@dataclass(frozen=True)
class AudioFeatures:
    """Per-frame audio features of one clip, all on the same 25 fps grid of T frames.

    Attributes:
        linguistic: (T, D_l) float32, e.g. WavLM last hidden state (768) or log-mel (offline default).
        amplitude: (T, 1) float32, mean Hilbert envelope over each frame's 640 samples.
        emotion: (T, D_e) float32, e.g. emotion2vec (768) or prosody (offline default).
        envelope: (T * 640,) float32 sample-level Hilbert envelope at 16 kHz (noise anchors).
        linguistic_encoder: encoder name (``wavlm``, ``mel``, ...); checkpoints record it.
        emotion_encoder: encoder name (``emotion2vec``, ``prosody``, ...).
        metadata: JSON-able extras: ``encoders`` (each encoder's name, dim, identity, model),
            ``source`` (what was encoded), ``duration_s``.
    """

    linguistic: np.ndarray
    amplitude: np.ndarray
    emotion: np.ndarray
    envelope: np.ndarray
    linguistic_encoder: str
    emotion_encoder: str
    fps: float = float(FPS)
    sample_rate: int = SAMPLE_RATE
    metadata: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        t = np.asarray(self.linguistic).shape[0]
        for name in ("linguistic", "amplitude", "emotion", "envelope"):
            arr = np.asarray(getattr(self, name), dtype=np.float32)
            object.__setattr__(self, name, arr)
        if self.linguistic.ndim != 2 or self.emotion.ndim != 2:
            raise X3DError("linguistic and emotion features must be 2-D (T, D)")
        if self.amplitude.shape != (t, 1):
            raise X3DError(f"amplitude must have shape ({t}, 1), got {self.amplitude.shape}")
        if self.emotion.shape[0] != t:
            raise X3DError(f"emotion features have {self.emotion.shape[0]} frames, linguistic have {t}")
        if self.envelope.shape != (t * SAMPLES_PER_FRAME,):
            raise X3DError(f"envelope must have shape ({t * SAMPLES_PER_FRAME},), got {self.envelope.shape}")

    @property
    def num_frames(self) -> int:
        return self.linguistic.shape[0]

    @property
    def linguistic_dim(self) -> int:
        return self.linguistic.shape[1]

    @property
    def emotion_dim(self) -> int:
        return self.emotion.shape[1]

    def slice(self, start: int, stop: int) -> AudioFeatures:
        """Frames [start, stop) (envelope sliced to the same samples)."""
        s0, s1 = start * SAMPLES_PER_FRAME, stop * SAMPLES_PER_FRAME
        return AudioFeatures(
            self.linguistic[start:stop], self.amplitude[start:stop], self.emotion[start:stop],
            self.envelope[s0:s1], self.linguistic_encoder, self.emotion_encoder, self.fps, self.sample_rate,
            dict(self.metadata),
        )

    # -- encoder bookkeeping (SPEC §2: checkpoints record the encoders they were trained with) --
    def encoder_spec(self) -> dict:
        """``{"linguistic": {"name", "dim"}, "emotion": {"name", "dim"}}``: what a checkpoint records."""
        return {
            "linguistic": {"name": self.linguistic_encoder, "dim": self.linguistic_dim},
            "emotion": {"name": self.emotion_encoder, "dim": self.emotion_dim},
        }

    def check_encoders(self, spec: dict, what: str = "the checkpoint") -> None:
        """Raise :class:`X3DError` unless these features come from the encoders in ``spec``.

        ``spec`` is :meth:`encoder_spec`'s layout (as stored in a checkpoint config).
        """
        mine = self.encoder_spec()
        for role in ("linguistic", "emotion"):
            want = spec.get(role) or {}
            have = mine[role]
            if want.get("name") not in (None, have["name"]) or want.get("dim") not in (None, have["dim"]):
                raise X3DError(
                    f"{what} was trained with {role} encoder {want.get('name')} ({want.get('dim')}-d) but the "
                    f"audio features come from {have['name']} ({have['dim']}-d); re-encode the audio with "
                    f"--{role} {want.get('name')}"
                )

    # -- npz IO --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write every array plus encoder names and metadata (JSON) to ``path`` (.npz), atomically."""
        path = Path(path)
        arrays = {
            "linguistic": self.linguistic, "amplitude": self.amplitude, "emotion": self.emotion,
            "envelope": self.envelope,
            "linguistic_encoder": np.asarray(self.linguistic_encoder),
            "emotion_encoder": np.asarray(self.emotion_encoder),
            "fps": np.asarray(self.fps, np.float64), "sample_rate": np.asarray(self.sample_rate, np.int64),
            "metadata": np.asarray(json.dumps(self.metadata)),
            "format_version": np.asarray(FORMAT_VERSION, np.int64),
        }
        return save_npz(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> AudioFeatures:
        """Read a file written by :meth:`save`; a malformed file raises :class:`InvalidFileError`."""
        path = Path(path)
        if not path.is_file():
            raise X3DError(f"audio feature file not found: {path}")
        need = {"linguistic", "amplitude", "emotion", "envelope", "linguistic_encoder", "emotion_encoder"}
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = need - set(data.files)
                if missing:
                    raise InvalidFileError(f"{path} is not an audio feature file (missing {', '.join(sorted(missing))})")
                return cls(
                    linguistic=data["linguistic"], amplitude=data["amplitude"], emotion=data["emotion"],
                    envelope=data["envelope"], linguistic_encoder=str(data["linguistic_encoder"]),
                    emotion_encoder=str(data["emotion_encoder"]),
                    fps=float(data["fps"]) if "fps" in data.files else float(FPS),
                    sample_rate=int(data["sample_rate"]) if "sample_rate" in data.files else SAMPLE_RATE,
                    metadata=json.loads(str(data["metadata"])) if "metadata" in data.files else {},
                )
        except InvalidFileError:
            raise
        except X3DError as exc:
            raise InvalidFileError(f"{path}: {exc}") from None
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidFileError(f"cannot read audio feature file {path}: {exc}") from None
