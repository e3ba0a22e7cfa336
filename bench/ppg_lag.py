"""Measure hama's emission lag: how long after a phone's onset its posterior peaks, on real read speech.

Phones come from pocketsphinx forced alignment of the LibriVox clips in Debian's
``pocketsphinx-testdata`` (with their transcripts); for each aligned phone the 50 Hz posterior of
the matching IPA classes is searched from 100 ms before the onset to 200 ms after the end, and the
peak time minus the onset is that phone's lag. Prints JSON (median, mean, quartiles, and the lag
after the encoder's compensation, read back from its 25 fps output).

    python bench/ppg_lag.py [--data /usr/share/pocketsphinx/test/data/librivox]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ARPABET_TO_IPA = {
    "aa": ("ɑ", "ɒ", "a"), "ae": ("æ",), "ah": ("ʌ", "ə", "ɐ"), "ao": ("ɔ", "ɒ"), "aw": ("aʊ",), "ay": ("aɪ",),
    "b": ("b",), "ch": ("t͡ʃ",), "d": ("d", "ɾ"), "dh": ("ð",), "eh": ("ɛ", "e"), "er": ("ɝ", "ɚ", "ɜ"),
    "ey": ("eɪ",), "f": ("f",), "g": ("ɡ", "g"), "hh": ("h",), "ih": ("ɪ",), "iy": ("i",), "jh": ("d͡ʒ",),
    "k": ("k",), "l": ("l", "ɫ"), "m": ("m",), "n": ("n",), "ng": ("ŋ",), "ow": ("oʊ", "o"), "oy": ("ɔɪ",),
    "p": ("p",), "r": ("ɹ", "r"), "s": ("s",), "sh": ("ʃ",), "t": ("t", "ɾ"), "th": ("θ",), "uh": ("ʊ",),
    "uw": ("u",), "v": ("v",), "w": ("w",), "y": ("j",), "z": ("z",), "zh": ("ʒ",),
}


def phone_lags(posteriors: np.ndarray, frame_s: float, offset_s: float, phones, classes: tuple[str, ...]) -> list[float]:
    """Lag (s) of each aligned phone's posterior peak after its onset; posteriors (n, 191) probabilities."""
    index = {c: i for i, c in enumerate(classes)}
    times = offset_s + np.arange(len(posteriors)) * frame_s
    lags = []
    for p in phones:
        ids = [index[c] for c in ARPABET_TO_IPA.get(p.name, ()) if c in index]
        if not ids:
            continue
        sel = (times >= p.start - 0.1) & (times <= p.end + 0.2)
        if not sel.any():
            continue
        score = posteriors[sel][:, ids].sum(axis=1)
        if score.max() < 0.3:  # the recogniser did not hear this phone: no peak to time
            continue
        lags.append(float(times[sel][score.argmax()] - p.start))
    return lags


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/usr/share/pocketsphinx/test/data/librivox")
    args = ap.parse_args()

    from x3dtalker_core import FPS
    from x3dtalker_core.audio import load_audio
    from x3dtalker_core.audio.encoders.ppg import EMISSION_LAG_S, HOP, PPGEncoder
    from x3dtalker_core.eval.align import forced_align, read_transcriptions

    data = Path(args.data)
    texts = read_transcriptions(data / "transcription")
    raw_enc = PPGEncoder(lag_seconds=0.0)
    raw, compensated, phones_used = [], [], 0
    for wav in sorted(data.glob("*.wav")):
        audio = load_audio(wav)
        phones = [p for p in forced_align(audio, texts[wav.stem]) if p.name != "pau"]
        phones_used += len(phones)
        post = np.exp(raw_enc.log_posteriors(audio))
        raw += phone_lags(post, HOP / 16000, 0.5 * HOP / 16000, phones, raw_enc.class_names)
        feats = np.exp(PPGEncoder().encode(audio))  # (T, 191) at 25 fps, lag compensated
        compensated += phone_lags(feats, 1 / FPS, 0.5 / FPS, phones, raw_enc.class_names)
    q = lambda x, p: round(float(np.percentile(x, p)) * 1000, 1)
    print(json.dumps({
        "data": str(data), "phones_aligned": phones_used, "phones_with_peak": len(raw),
        "raw_lag_ms": {"median": q(raw, 50), "mean": round(float(np.mean(raw)) * 1000, 1),
                       "q25": q(raw, 25), "q75": q(raw, 75)},
        "compensation_ms": round(EMISSION_LAG_S * 1000, 1),
        "after_compensation_25fps_ms": {"median": q(compensated, 50), "q25": q(compensated, 25),
                                        "q75": q(compensated, 75)},
    }, indent=1))


if __name__ == "__main__":
    main()
