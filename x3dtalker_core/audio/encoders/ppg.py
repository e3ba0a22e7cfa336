"""``ppg``: phonetic posteriorgrams from hama's phoneme recogniser — the offline default linguistic encoder.

Speaker-independent phonetic features: hama (PyPI ``hama==1.7.0``, Apache-2.0) ships a waveform ->
phoneme CTC recogniser (4.7 MB of weights inside the wheel, a native engine, numpy only, no
download). Its 191 output classes (IPA phones, word boundary, CTC blank) at 50 Hz, as log
posteriors, are the features: what was said, largely free of who said it, which is what lip motion
needs (the ``mel`` spectrogram carries the voice too, and a generator trained on a few TTS voices
does not transfer to real ones).

Timing. CTC emissions come late: hama's posterior peak for a phone lies on average
:data:`EMISSION_LAG_S` after the phone's onset (measured against pocketsphinx forced alignment of
real read speech: ``bench/ppg_lag.py``). Each 25 fps frame therefore reads the posteriors at
``frame centre + lag``, so a phone's evidence appears in the frames where the phone is spoken.
A 25 fps frame spans two 50 Hz frames: their posteriors are averaged (probabilities, then log), so
a one-frame CTC spike is kept, not interpolated away.

Long audio is cut into equal overlapping windows (:func:`~..windows.plan_model_windows`, as for the
other pretrained encoders); memory stays bounded whatever the clip length.

The installed version and the weight file's sha256 are checked: other weights would silently mean
other features, and a checkpoint trained on these would then lip-sync wrongly. Where hama cannot
load (no native library for the platform, e.g. Windows, or another version), :func:`ppg_unavailable`
says why in one line and the ``mel`` encoder is the fallback; a generator trained on ``ppg`` cannot
use it, so the error says what to do instead (:data:`MEL_ROUTE`).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Optional

import numpy as np

from ... import SAMPLE_RATE, SAMPLES_PER_FRAME
from ...errors import X3DError
from ..windows import CancelFn, ProgressFn, check_cancel, interpolate_rows, plan_model_windows
from .base import FrameEncoder

HAMA_VERSION = "1.7.0"
WEIGHT_FILE = "asr_waveform.hama"
WEIGHT_SHA256 = "a9fcfe73e179ca48e399cd76a90a6b3e1887bf5037ecc52b778d13a149563328"
NUM_CLASSES = 191
HOP = 320  # samples per 50 Hz output frame (160-sample STFT hop, subsampled by 2)
EMISSION_LAG_S = 0.085
"""Median delay of hama's posterior peak after the phone onset: 85 ms on the LibriVox clips (bench/ppg_lag.py)."""
LOG_FLOOR = 1e-8
INSTALL_HINT = f"pip install hama=={HAMA_VERSION}"
MEL_ROUTE = ("a generator trained on 'ppg' features (the bundled bootstrap v2) cannot run without it; use one "
             "trained on 'mel' features instead (none ships: train it with `LINGUISTIC=mel bash "
             "recipes/bootstrap_v2.sh OUT`, see the model card)")
"""What to do where ppg cannot run: the one piece of advice that gets a user to working lip sync."""


def _hama_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hama")
    except PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def ppg_unavailable() -> str | None:
    """Why the ``ppg`` encoder cannot run here (one line), or None when it can."""
    found = _hama_version()
    if found is None:
        return f"the 'ppg' encoder needs hama: {INSTALL_HINT}"
    if found != HAMA_VERSION:
        return f"the 'ppg' encoder needs hama {HAMA_VERSION} (installed: {found}): {INSTALL_HINT}"
    try:
        from hama import _engine
    except Exception as exc:  # a broken native build raises anything at import
        return f"hama does not import on this platform ({exc}), so the 'ppg' encoder cannot run here"
    if not _engine.available():
        return "hama ships no native library for this platform (e.g. Windows), so the 'ppg' encoder cannot run here"
    return None


def ppg_available() -> bool:
    return ppg_unavailable() is None


def _verified_weight_path():
    from importlib import resources

    path = resources.files("hama.assets").joinpath(WEIGHT_FILE)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHT_SHA256:
        raise X3DError(f"hama's {WEIGHT_FILE} has sha256 {digest[:12]}..., expected {WEIGHT_SHA256[:12]}...: "
                       f"reinstall it with {INSTALL_HINT} --force-reinstall")
    return path


class PPGEncoder(FrameEncoder):
    """Phonetic posteriorgrams, (T, 191) log posteriors of hama's phoneme classes per 40 ms frame.

    Args:
        window_seconds: length of each recogniser input window.
        overlap_seconds: overlap between consecutive windows (each frame keeps at least half of it as
            context on both sides).
        lag_seconds: emission delay compensated (default: the measured :data:`EMISSION_LAG_S`).
    """

    name = "ppg"
    role = "linguistic"
    paper = False

    def __init__(self, window_seconds: float = 20.0, overlap_seconds: float = 2.0,
                 lag_seconds: float = EMISSION_LAG_S) -> None:
        if window_seconds <= 0 or not 0 <= overlap_seconds < window_seconds:
            raise ValueError("need window_seconds > 0 and 0 <= overlap_seconds < window_seconds")
        reason = ppg_unavailable()
        if reason is not None:
            raise X3DError(f"{reason}; {MEL_ROUTE}")
        from hama.asr import ASRModel

        self._model = ASRModel(model_path=_verified_weight_path())
        self.class_names: tuple[str, ...] = tuple(self._model.decoder_tokens)
        if len(self.class_names) != NUM_CLASSES:
            raise X3DError(f"hama's recogniser has {len(self.class_names)} classes, expected {NUM_CLASSES}: "
                           f"{INSTALL_HINT}")
        self.window_samples = int(round(window_seconds * SAMPLE_RATE))
        self.hop_samples = self.window_samples - int(round(overlap_seconds * SAMPLE_RATE))
        self.lag_seconds = float(lag_seconds)

    @property
    def dim(self) -> int:
        return NUM_CLASSES

    @property
    def identity(self) -> str:
        return f"ppg-v1-hama{HAMA_VERSION}-{WEIGHT_SHA256[:12]}-lag{round(self.lag_seconds * 1000)}ms"

    def num_steps(self, num_frames: int) -> int:
        return len(plan_model_windows(num_frames * SAMPLES_PER_FRAME, num_frames, self.window_samples,
                                      self.hop_samples))

    def log_posteriors(self, segment: np.ndarray) -> np.ndarray:
        """hama's 50 Hz log posteriors of a waveform segment: (S,) float32 -> (ceil-ish(S / 320), 191)."""
        m = self._model
        x = np.ascontiguousarray(segment, dtype=np.float32).reshape(1, -1)
        log_probs, lengths = m.session.run(
            [m._log_probs_output_name, m._out_lengths_output_name],
            {m._waveform_input_name: x, m._waveform_lengths_input_name: np.array([x.shape[1]], np.int64)})
        n = int(np.asarray(lengths).reshape(-1)[0])
        return np.asarray(log_probs[0, :n], dtype=np.float32)

    def _encode_frames(
        self, waveform: np.ndarray, num_frames: int, progress: Optional[ProgressFn], cancel: Optional[CancelFn]
    ) -> np.ndarray:
        # hama clips its input to [-1, 1]; do the same so a loud clip is treated alike everywhere
        waveform = np.clip(waveform, -1.0, 1.0)
        windows = plan_model_windows(waveform.size, num_frames, self.window_samples, self.hop_samples)
        out = np.empty((num_frames, self.dim), dtype=np.float32)
        for i, w in enumerate(windows):
            check_cancel(cancel)
            probs = np.exp(self.log_posteriors(waveform[w.start : w.start + w.length]))
            frames = np.arange(w.keep_from, w.keep_to, dtype=np.float64)
            # 50 Hz frame j is centred at sample start + (j + 0.5) * HOP; read at centre + lag
            centre = (frames + 0.5) * SAMPLES_PER_FRAME + self.lag_seconds * SAMPLE_RATE - w.start
            pos = centre / HOP - 0.5
            # the two 50 Hz frames inside this 40 ms frame, averaged as probabilities
            half = SAMPLES_PER_FRAME / (4 * HOP)
            avg = 0.5 * (interpolate_rows(probs, pos - half) + interpolate_rows(probs, pos + half))
            out[w.keep_from : w.keep_to] = np.log(np.maximum(avg, LOG_FLOOR))
            if progress is not None:
                progress(i + 1, len(windows))
        return out
