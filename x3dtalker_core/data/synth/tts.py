"""Text-to-speech engines that report phone timings: festival (HTS), flite and espeak-ng.

Every engine turns text into an :class:`Utterance`: 16 kHz mono float32 speech plus the start and
end time of every phone, with phone names mapped to one ARPAbet-like set (lower case, ``pau`` for
silence) so the viseme teacher needs one table. All three install from Debian packages::

    apt-get install festival festvox-us-slt-hts festlex-cmu flite espeak-ng

* festival: a Scheme script synthesises the text and prints every segment's end time.
* flite: ``-psdur`` prints ``phone:end_time`` for every segment.
* espeak-ng: its C library (``libespeak-ng.so.1``, through ctypes) emits a phoneme event, with the
  audio position, for every phoneme; the library keeps global state, so calls are serialised.

Voices are named ``engine:voice`` (``flite:slt``, ``festival:slt_hts``, ``espeak:en-us+f3``).
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import SAMPLE_RATE
from ...errors import X3DError

SILENCE = "pau"


@dataclass(frozen=True)
class Phone:
    """One phone: ARPAbet-like name (``pau`` = silence) and its span in seconds."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class Utterance:
    """Synthesised speech with phone timings.

    Attributes:
        audio: (N,) float32 mono at 16 kHz.
        phones: consecutive phones covering the speech (times in seconds, non-decreasing).
        voice: ``engine:voice`` that spoke it.
    """

    audio: np.ndarray
    phones: tuple[Phone, ...]
    voice: str

    @property
    def duration(self) -> float:
        return self.audio.size / SAMPLE_RATE


@dataclass(frozen=True)
class Delivery:
    """How the text is spoken: tempo and pitch, as engine-neutral factors.

    Attributes:
        rate: speaking-rate factor (1 = the voice's default, 1.2 = 20 % faster).
        pitch: pitch shift in semitones.
        pitch_range: factor on the intonation range (1 = default).
    """

    rate: float = 1.0
    pitch: float = 0.0
    pitch_range: float = 1.0


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    x = np.asarray(x, np.float32)
    if rate == SAMPLE_RATE:
        return x
    return soxr.resample(x, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)


def _read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return _resample(audio.mean(axis=1), rate)


def _phones_from_ends(names_ends: list[tuple[str, float]]) -> tuple[Phone, ...]:
    phones, start = [], 0.0
    for name, end in names_ends:
        end = max(end, start)
        phones.append(Phone(name, start, end))
        start = end
    return tuple(phones)


def _run(cmd: list[str], what: str, timeout: float = 120.0) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise X3DError(f"{what}: program '{cmd[0]}' not found; install it (apt-get install {cmd[0]})") from None
    except subprocess.TimeoutExpired:
        raise X3DError(f"{what}: '{cmd[0]}' did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise X3DError(f"{what}: '{cmd[0]}' failed ({done.returncode}): {done.stderr.strip()[:200]}")
    return done.stdout


# ----------------------------------------------------------------------------------------- flite

FLITE_VOICES = ("slt", "awb", "rms", "kal16")
_FLITE_F0 = {"slt": 160.0, "awb": 110.0, "rms": 100.0, "kal16": 100.0}  # default f0 means (Hz)


def flite_synthesize(text: str, voice: str, delivery: Delivery = Delivery()) -> Utterance:
    """Speak ``text`` with flite's ``voice`` (``slt``, ``awb``, ``rms``, ``kal16``)."""
    if voice not in FLITE_VOICES:
        raise X3DError(f"unknown flite voice {voice!r}; choose one of {', '.join(FLITE_VOICES)}")
    f0 = _FLITE_F0[voice] * 2.0 ** (delivery.pitch / 12.0)
    with tempfile.TemporaryDirectory(prefix="x3d_flite_") as tmp:
        wav = Path(tmp) / "out.wav"
        text_file = Path(tmp) / "text.txt"
        text_file.write_text(text)
        out = _run(["flite", "-voice", voice, "-f", str(text_file), "-o", str(wav), "-psdur",
                    "--setf", f"duration_stretch={1.0 / delivery.rate:.4f}",
                    "--setf", f"int_f0_target_mean={f0:.1f}",
                    "--setf", f"int_f0_target_stddev={max(5.0, 0.12 * f0 * delivery.pitch_range):.1f}"],
                   f"flite voice {voice}")
        audio = _read_wav(wav)
    pairs = []
    for token in out.split():
        name, _, end = token.rpartition(":")
        try:
            pairs.append((name.lower(), float(end)))
        except ValueError:
            continue
    if not pairs:
        raise X3DError(f"flite voice {voice} printed no phone timings (is it flite >= 2.0 with -psdur?)")
    return Utterance(audio, _phones_from_ends(pairs), f"flite:{voice}")


# -------------------------------------------------------------------------------------- festival

FESTIVAL_VOICES = {"slt_hts": "voice_cmu_us_slt_arctic_hts"}


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_synthesize(text: str, voice: str = "slt_hts", delivery: Delivery = Delivery()) -> Utterance:
    """Speak ``text`` with a festival voice (``slt_hts``: CMU ARCTIC SLT, HTS; the most natural here)."""
    if voice not in FESTIVAL_VOICES:
        raise X3DError(f"unknown festival voice {voice!r}; choose one of {', '.join(FESTIVAL_VOICES)}")
    with tempfile.TemporaryDirectory(prefix="x3d_festival_") as tmp:
        wav = Path(tmp) / "out.wav"
        script = Path(tmp) / "say.scm"
        # hts_engine: -r speaking-rate factor, -fm pitch shift in half tones.
        script.write_text(
            f"({FESTIVAL_VOICES[voice]})\n"
            f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {delivery.rate:.4f}) '
            f'(list "-fm" {delivery.pitch:.3f}))))\n'
            f"(set! utt (SynthText {_scheme_string(text)}))\n"
            f'(utt.save.wave utt {_scheme_string(str(wav))} \'riff)\n'
            "(mapcar (lambda (s) (format t \"%s %f\\n\" (item.name s) (item.feat s \"end\")))"
            " (utt.relation.items utt 'Segment))\n"
        )
        out = _run(["festival", "-b", str(script)], f"festival voice {voice}")
        if not wav.is_file():
            raise X3DError(f"festival voice {voice} wrote no audio; is festvox-us-slt-hts installed?")
        audio = _read_wav(wav)
    pairs = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                pairs.append((parts[0].lower(), float(parts[1])))
            except ValueError:
                continue
    if not pairs:
        raise X3DError(f"festival voice {voice} printed no segment timings")
    return Utterance(audio, _phones_from_ends(pairs), f"festival:{voice}")


# ------------------------------------------------------------------------------------- espeak-ng

# espeak-ng English phoneme mnemonics -> ARPAbet-like names (stress digits and length marks removed
# before the look-up; unknown ones fall back on their first letter's class in the viseme table).
ESPEAK_TO_ARPABET = {
    "p": "p", "b": "b", "m": "m", "f": "f", "v": "v", "T": "th", "D": "dh", "t": "t", "d": "d", "n": "n",
    "l": "l", "s": "s", "z": "z", "S": "sh", "Z": "zh", "tS": "ch", "dZ": "jh", "r": "r", "k": "k", "g": "g",
    "N": "ng", "h": "hh", "w": "w", "j": "y", "t#": "t", "d#": "d", "n-": "n", "l-": "l", "r-": "r", "?": "t",
    "a": "ae", "aa": "aa", "A": "aa", "A@": "aa", "0": "aa", "O": "ao", "O@": "ao", "V": "ah", "@": "ax",
    "@L": "ax", "3": "er", "a#": "ax", "E": "eh", "e@": "eh", "I": "ih", "I#": "ih", "i": "iy", "I@": "ih",
    "U": "uh", "U@": "uh", "u": "uw", "aI": "ay", "aU": "aw", "eI": "ey", "OI": "oy", "oU": "ow", "o@": "ao",
    "aI@": "ay", "aU@": "aw", "i@": "iy", "i@3": "iy", "_": SILENCE, "_:": SILENCE, "_!": SILENCE,
}


def espeak_to_arpabet(mnemonic: str) -> str:
    """Map an espeak-ng phoneme mnemonic to the common phone set (``pau`` for pauses)."""
    m = mnemonic.strip()
    if not m or m.startswith("_"):
        return SILENCE
    if m in ESPEAK_TO_ARPABET:
        return ESPEAK_TO_ARPABET[m]
    base = re.sub(r"[0-9:;,'ˈˌ]+", "", m)
    return ESPEAK_TO_ARPABET.get(base, ESPEAK_TO_ARPABET.get(base[:1], base.lower() or SILENCE))


class _EspeakId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _EspeakEvent(ctypes.Structure):
    # espeak_EVENT from speak_lib.h
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EspeakId)]


_EVENT_END_OF_LIST, _EVENT_PHONEME = 0, 7
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS, _INIT_DONT_EXIT = 0x0001, 0x8000
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_EspeakEvent))
_ESPEAK_LOCK = threading.Lock()
_ESPEAK: dict[str, object] = {}


def _espeak_library() -> tuple[ctypes.CDLL, int]:
    """Load and initialise libespeak-ng once per process (the library is a process-wide singleton)."""
    if "lib" not in _ESPEAK:
        try:
            lib = ctypes.CDLL("libespeak-ng.so.1")
        except OSError:
            raise X3DError("espeak-ng library libespeak-ng.so.1 not found; install it (apt-get install espeak-ng)") \
                from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200, None, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
        if rate <= 0:
            raise X3DError("espeak-ng failed to initialise (espeak-ng-data missing?)")
        _ESPEAK.update(lib=lib, rate=rate)
    return _ESPEAK["lib"], int(_ESPEAK["rate"])  # type: ignore[return-value]


def espeak_synthesize(text: str, voice: str = "en-us", delivery: Delivery = Delivery()) -> Utterance:
    """Speak ``text`` with espeak-ng ``voice`` (language plus optional variant, e.g. ``en-us+f3``)."""
    with _ESPEAK_LOCK:
        lib, rate = _espeak_library()
        chunks: list[np.ndarray] = []
        events: list[tuple[str, float]] = []

        def on_audio(wav, n, ev) -> int:
            if n > 0:
                chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
            i = 0
            while ev[i].type != _EVENT_END_OF_LIST:
                if ev[i].type == _EVENT_PHONEME:
                    events.append((ev[i].id.string.decode("ascii", "replace"), ev[i].audio_position / 1000.0))
                i += 1
            return 0

        callback = _CALLBACK(on_audio)  # kept alive until synthesis returns
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise X3DError(f"espeak-ng has no voice {voice!r}; list them with 'espeak-ng --voices=en'")
        lib.espeak_SetParameter(_PARAM_RATE, round(175 * delivery.rate), 0)
        lib.espeak_SetParameter(_PARAM_PITCH, int(np.clip(50 + 4 * delivery.pitch, 0, 99)), 0)
        lib.espeak_SetParameter(_PARAM_RANGE, int(np.clip(50 * delivery.pitch_range, 0, 99)), 0)
        data = text.encode("utf-8")
        err = lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None)  # POS_CHARACTER, espeakCHARS_UTF8
        lib.espeak_Synchronize()
        lib.espeak_SetSynthCallback(None)
    if err != 0 or not chunks:
        raise X3DError(f"espeak-ng voice {voice} failed to synthesise (error {err})")
    audio = np.concatenate(chunks).astype(np.float32) / 32768.0
    duration = audio.size / rate
    # Phoneme events give start times; a phone ends where the next begins.
    starts = [(espeak_to_arpabet(name), t) for name, t in events]
    phones = [Phone(SILENCE, 0.0, starts[0][1])] if starts and starts[0][1] > 0 else []
    for i, (name, t) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else duration
        if end > t:
            phones.append(Phone(name, t, end))
    if phones and phones[-1].end < duration:
        phones.append(Phone(SILENCE, phones[-1].end, duration))
    return Utterance(_resample(audio, rate), tuple(phones), f"espeak:{voice}")


# ----------------------------------------------------------------------------------------- voices

ENGINES = {"flite": flite_synthesize, "festival": festival_synthesize, "espeak": espeak_synthesize}
ENGINE_PROGRAMS = {"flite": "flite", "festival": "festival", "espeak": "espeak-ng"}
ENGINE_PACKAGES = {"flite": "flite", "festival": "festival festvox-us-slt-hts festlex-cmu", "espeak": "espeak-ng"}

DEFAULT_VOICES = (
    "festival:slt_hts", "flite:slt", "flite:awb", "flite:rms", "flite:kal16",
    "espeak:en-us+m3", "espeak:en-us+f2", "espeak:en-gb-x-rp+m1", "espeak:en-us+f4", "espeak:en-gb-scotland+m2",
)
"""Every voice the corpus uses by default (10 voices, 3 engines)."""

DEFAULT_VALIDATION_VOICES = ("flite:rms", "espeak:en-gb-scotland+m2")
"""Voices held out whole for validation: one per family that has several voices."""


def parse_voice(voice: str) -> tuple[str, str]:
    """``"engine:voice"`` -> (engine, voice), with a clear error for unknown engines."""
    engine, sep, name = voice.partition(":")
    if not sep or engine not in ENGINES or not name:
        raise X3DError(f"bad voice {voice!r}: use engine:voice with engine one of {', '.join(ENGINES)} "
                       f"(e.g. flite:slt, festival:slt_hts, espeak:en-us+f3)")
    return engine, name


def engine_available(engine: str) -> bool:
    """Whether the engine's program (or library) is installed."""
    if engine == "espeak":
        try:
            ctypes.CDLL("libespeak-ng.so.1")
        except OSError:
            return False
        return True
    if engine == "festival":
        return shutil.which("festival") is not None and Path(
            "/usr/share/festival/voices/us/cmu_us_slt_arctic_hts").is_dir()
    return shutil.which(ENGINE_PROGRAMS[engine]) is not None


def check_voices(voices: list[str] | tuple[str, ...]) -> None:
    """Raise a one-line error naming the apt packages to install when an engine is missing."""
    missing = sorted({e for e, _ in map(parse_voice, voices) if not engine_available(e)})
    if missing:
        pkgs = " ".join(ENGINE_PACKAGES[e] for e in missing)
        raise X3DError(f"TTS engine(s) {', '.join(missing)} not installed: apt-get install {pkgs}")


def synthesize(text: str, voice: str, delivery: Delivery = Delivery()) -> Utterance:
    """Speak ``text`` with ``voice`` (``engine:voice``) and return audio + phone timings."""
    engine, name = parse_voice(voice)
    return ENGINES[engine](text, name, delivery)
