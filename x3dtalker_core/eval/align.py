"""Phone timings of real speech from its transcript: pocketsphinx forced alignment.

Real read speech has no motion capture, but with a transcript its phones can be placed in time,
and lip sync can then be judged the way people judge it (lips shut on p/b/m, open on open vowels,
closed in pauses; :mod:`.lipsync`). pocketsphinx 5 (``pip install pocketsphinx==5.1.1``, BSD,
its US-English acoustic model and CMU dictionary inside the wheel) aligns the words, then the
phones, in two passes over the audio.

Phones come back in the synthetic corpus's ARPAbet-like set (lower case, ``pau`` for silence and
noise), so one viseme table serves both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..data.synth.tts import SILENCE, Phone
from ..errors import X3DError

FRAME_S = 0.01  # pocketsphinx frames are 10 ms
NON_SPEECH = {"sil", "+nsn+", "+spn+", "+breath+", "+cough+", "+noise+", "+um+", "+uh+"}


@lru_cache(maxsize=1)
def _decoder():
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:
        raise X3DError("forced alignment needs pocketsphinx: pip install pocketsphinx==5.1.1") from exc
    return Decoder(lm=None, loglevel="FATAL")


def normalize_transcript(text: str) -> str:
    """Lower-case words, sentence markers and punctuation removed (what the CMU dictionary holds)."""
    text = re.sub(r"</?s>", " ", text.lower())
    return " ".join(re.findall(r"[a-z']+", text))


def forced_align(audio: np.ndarray, transcript: str) -> tuple[Phone, ...]:
    """Phones of ``transcript`` placed in ``audio``.

    Args:
        audio: (N,) float 16 kHz mono speech.
        transcript: the words spoken (any case and punctuation).
    Returns:
        consecutive phones with start/end in seconds, covering the aligned span; silences ``pau``.
    Raises:
        X3DError naming the word when a word is not in the dictionary or alignment fails.
    """
    words = normalize_transcript(transcript)
    if not words:
        raise X3DError("empty transcript: forced alignment needs the words spoken")
    dec = _decoder()
    for word in words.split():
        if dec.lookup_word(word) is None:
            raise X3DError(f"word {word!r} is not in pocketsphinx's dictionary; spell it as spoken or drop it")
    pcm = (np.clip(np.asarray(audio, np.float64), -1, 1) * 32767).astype("<i2").tobytes()
    try:
        dec.set_align_text(words)
        for second_pass in (False, True):
            if second_pass:
                dec.set_alignment()
            dec.start_utt()
            dec.process_raw(pcm, full_utt=True)
            dec.end_utt()
        alignment = dec.get_alignment()
    except RuntimeError as exc:
        raise X3DError(f"forced alignment failed ({exc}); check that the transcript matches the audio") from exc
    if alignment is None:
        raise X3DError("forced alignment found no path; check that the transcript matches the audio")
    phones = []
    for ph in alignment.phones():
        name = ph.name.lower()
        name = SILENCE if name in NON_SPEECH else name
        start, end = ph.start * FRAME_S, (ph.start + ph.duration) * FRAME_S
        if phones and phones[-1].name == name == SILENCE:
            phones[-1] = Phone(SILENCE, phones[-1].start, end)
        else:
            phones.append(Phone(name, start, end))
    if not any(p.name != SILENCE for p in phones):
        raise X3DError("forced alignment placed no phones; check that the transcript matches the audio")
    return tuple(phones)


def read_transcriptions(path: str | Path) -> dict[str, str]:
    """A transcript file -> {utterance id: text}.

    Accepts the CMU/pocketsphinx format (``<s> words </s> (utt_id)`` per line, as in Debian's
    ``pocketsphinx-testdata``) and ``utt_id<TAB or space>words`` lines.
    """
    out: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"^(.*)\(([^()]+)\)\s*$", line)
        if m:
            out[m.group(2).strip()] = m.group(1).strip()
        else:
            utt, _, text = line.partition(" ") if "\t" not in line else line.partition("\t")
            out[utt.strip()] = text.strip()
    return out
