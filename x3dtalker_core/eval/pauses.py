"""Real read speech with real pauses: aligned clips joined by real recorded silence.

Short read-speech test clips (Debian's LibriVox sentences) are cut at the reader's pauses, so each
keeps only 0.2–0.3 s of silence at either edge and none of them holds a pause of 0.3 s or more:
"lips stay shut in pauses" cannot be measured on them one by one. Consecutive sentences of one
reading, joined in order, are a paragraph again. Between two sentences the pause is the first
clip's trailing silence, then *room tone* (the recording's own silence: the aligned edge silences
of the clips, spliced with short cross-fades), then the second clip's leading silence, so that the
whole pause lasts the gap asked for. Nothing is synthesised: every sample is from the recordings.

Phones come from each clip's own forced alignment (:func:`~.align.forced_align`), shifted by the
clip's offset in the joined recording, with the silences around each join merged into one ``pau``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import SAMPLE_RATE
from ..data.synth.tts import SILENCE, Phone
from ..errors import X3DError

SPEECH_GUARD_S = 0.03
"""Silence this close to a speech phone is not used as room tone (it may hold the phone's onset or decay)."""
CROSSFADE_S = 0.02
"""Raised-cosine cross-fade between spliced pieces of room tone."""


@dataclass(frozen=True)
class AlignedClip:
    """Speech and its phones.

    Attributes:
        name: clip id.
        audio: (N,) float32 at 16 kHz.
        phones: consecutive phones in seconds from the clip's start (``pau`` = silence).
    """

    name: str
    audio: np.ndarray
    phones: tuple[Phone, ...]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def edge_silences(self) -> tuple[float, float]:
        """Seconds of silence before the first and after the last speech phone."""
        speech = [p for p in self.phones if p.name != SILENCE]
        if not speech:
            raise X3DError(f"clip {self.name} has no speech phones")
        return speech[0].start, max(self.duration - speech[-1].end, 0.0)


def room_tone(clips: list[AlignedClip]) -> np.ndarray:
    """(N,) the recordings' own silence: every clip's leading and trailing silence, speech guard
    trimmed, spliced with :data:`CROSSFADE_S` cross-fades.

    Raises:
        X3DError when the clips hold less than 0.1 s of silence in all.
    """
    guard = int(SPEECH_GUARD_S * SAMPLE_RATE)
    pieces = []
    for clip in clips:
        lead, trail = clip.edge_silences()
        a, b = int(lead * SAMPLE_RATE) - guard, len(clip.audio) - int(trail * SAMPLE_RATE) + guard
        if a > 0:
            pieces.append(clip.audio[:a])
        if b < len(clip.audio):
            pieces.append(clip.audio[b:])
    fade = int(CROSSFADE_S * SAMPLE_RATE)
    pieces = [np.asarray(p, np.float32) for p in pieces if len(p) > 2 * fade]
    if sum(len(p) for p in pieces) < 0.1 * SAMPLE_RATE:
        raise X3DError("the clips hold less than 0.1 s of silence at their edges: no room tone to build pauses from")
    return _splice(pieces, fade)


def _splice(pieces: list[np.ndarray], fade: int) -> np.ndarray:
    """Concatenate with raised-cosine cross-fades of ``fade`` samples (equal power for uncorrelated noise)."""
    out = pieces[0].copy()
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade).astype(np.float32)
    for p in pieces[1:]:
        head = out[-fade:] * ramp[::-1] + p[:fade] * ramp
        out = np.concatenate([out[:-fade], head, p[fade:]])
    return out


def _tone_of_length(tone: np.ndarray, samples: int, start: int) -> np.ndarray:
    """``samples`` of room tone beginning ``start`` samples in, looping through the tone with cross-fades."""
    if samples <= 0:
        return np.zeros(0, np.float32)
    fade = int(CROSSFADE_S * SAMPLE_RATE)
    start %= len(tone)
    pieces, have = [tone[start:]], len(tone) - start
    while have < samples + fade:
        pieces.append(tone)
        have += len(tone) - fade
    pieces = [p for p in pieces if len(p) > 2 * fade] or [tone]
    return _splice(pieces, fade)[:samples]


def join_with_pauses(clips: list[AlignedClip], gaps_s: list[float], name: str = "joined") -> AlignedClip:
    """One recording of ``clips`` in order, the pause between clip i and i+1 lasting ``gaps_s[i]``.

    A pause is the clip's trailing silence + room tone + the next clip's leading silence; where the
    two edge silences alone already last longer than the gap asked for, the pause keeps their length
    (nothing is cut from the recordings).

    Args:
        clips: aligned clips, consecutive sentences of one reading.
        gaps_s: len(clips) - 1 pause lengths in seconds.
    Returns:
        the joined clip; its phones have one ``pau`` per join.
    """
    if len(gaps_s) != len(clips) - 1:
        raise X3DError(f"{len(clips)} clips need {len(clips) - 1} gaps, got {len(gaps_s)}")
    tone = room_tone(clips)
    audio: list[np.ndarray] = []
    phones: list[Phone] = []
    offset, tone_pos = 0, 0
    for i, clip in enumerate(clips):
        if i:
            natural = clips[i - 1].edge_silences()[1] + clip.edge_silences()[0]
            n = max(int(round((gaps_s[i - 1] - natural) * SAMPLE_RATE)), 0)
            audio.append(_tone_of_length(tone, n, tone_pos))
            tone_pos += n
            offset += n
        t0 = offset / SAMPLE_RATE
        phones += [Phone(p.name, p.start + t0, p.end + t0) for p in clip.phones]
        audio.append(np.asarray(clip.audio, np.float32))
        offset += len(clip.audio)
    return AlignedClip(name, np.concatenate(audio), _fill_silences(phones, offset / SAMPLE_RATE))


def _fill_silences(phones: list[Phone], duration: float) -> tuple[Phone, ...]:
    """Consecutive phones: holes become ``pau`` and touching ``pau`` are merged."""
    out: list[Phone] = []
    cursor = 0.0
    for p in sorted(phones, key=lambda q: q.start):
        if p.start > cursor + 1e-9:
            out.append(Phone(SILENCE, cursor, p.start))
        start = max(p.start, cursor)
        if p.end > start:
            out.append(Phone(p.name, start, p.end))
            cursor = p.end
    if duration > cursor + 1e-9:
        out.append(Phone(SILENCE, cursor, duration))
    merged: list[Phone] = []
    for p in out:
        if merged and merged[-1].name == SILENCE == p.name:
            merged[-1] = Phone(SILENCE, merged[-1].start, p.end)
        else:
            merged.append(p)
    return tuple(merged)


def pause_gaps(count: int, low: float, high: float, seed: int = 0) -> list[float]:
    """``count`` pause lengths drawn uniformly from [low, high] seconds (seeded)."""
    if not 0 < low <= high:
        raise X3DError(f"pause gaps need 0 < MIN <= MAX seconds, got {low} {high}")
    return [float(g) for g in np.random.default_rng(seed).uniform(low, high, count)]
