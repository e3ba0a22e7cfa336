"""Varied sentences with broad phone coverage, built from Debian's word list and CMU dictionary.

Words come from ``/usr/share/dict/words`` (package ``wamerican``) intersected with the CMU
pronouncing dictionary that festival ships (``festlex-cmu``: ``cmudict-0.4.out``), so every word's
phones are known. Content words are drawn with weights that favour rare phones (a word's weight is
the mean of 1/sqrt(frequency) of its phones over the vocabulary), and sentences mix them with
function words, commas, questions and exclamations, so the TTS engines produce varied prosody and
every English phone appears often.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import X3DError

WORD_LISTS = (Path("/usr/share/dict/american-english"), Path("/usr/share/dict/words"))
CMU_DICT = Path("/usr/share/festival/dicts/cmu/cmudict-0.4.out")

FUNCTION_WORDS = ["the", "a", "an", "of", "to", "and", "in", "is", "it", "that", "was", "he", "she", "we", "they", "you", "with", "for", "on", "at", "by", "from", "as", "but", "not", "or", "this", "his", "her", "their", "our", "my", "your", "have", "has", "had", "will", "would", "could", "should", "can", "may", "might", "be", "been", "are", "were", "do", "did", "so", "if", "then", "when", "where", "there", "here", "what", "which", "who", "how", "all", "some", "any", "no", "every", "very"]
OPENERS = ("well", "so", "now", "yes", "no", "oh", "look", "listen", "honestly", "really", "then")

_ENTRY = re.compile(r'^\("([a-z]+)" [^ ]+ \((.*)\)\)\s*$')


@dataclass(frozen=True)
class Vocabulary:
    """Words with their phones and sampling weights.

    Attributes:
        words: (W,) content words.
        weights: (W,) sampling probabilities (sum 1), higher for words with rare phones.
        phones: word -> phones (ARPAbet, no stress), for the words that have a pronunciation.
    """

    words: tuple[str, ...]
    weights: np.ndarray
    phones: dict[str, tuple[str, ...]]


def read_cmu_dict(path: Path = CMU_DICT) -> dict[str, tuple[str, ...]]:
    """Festival's CMU lexicon (``("word" pos (((ph ...) stress) ...))`` lines) -> word -> phones."""
    lexicon: dict[str, tuple[str, ...]] = {}
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            m = _ENTRY.match(line)
            if m and m.group(1) not in lexicon:
                lexicon[m.group(1)] = tuple(re.findall(r"[a-z]+", re.sub(r"\) [0-9]\)", ")", m.group(2))))
    return lexicon


def read_word_list(paths: tuple[Path, ...] = WORD_LISTS) -> list[str]:
    """Plain lower-case alphabetic words (3-12 letters) of the first system word list found."""
    for path in paths:
        if path.is_file():
            words = path.read_text(encoding="utf-8", errors="ignore").split()
            return sorted({w for w in words if w.isascii() and w.isalpha() and w.islower() and 3 <= len(w) <= 12})
    return []


@lru_cache(maxsize=2)
def load_vocabulary(word_list: tuple[Path, ...] = WORD_LISTS, cmu_dict: Path = CMU_DICT) -> Vocabulary:
    """The sentence vocabulary (cached per process).

    Raises an error naming the packages to install when neither source exists.
    """
    words = read_word_list(word_list)
    lexicon = read_cmu_dict(cmu_dict) if cmu_dict.is_file() else {}
    if words and lexicon:
        vocab = [w for w in words if w in lexicon]
    else:
        vocab = words or [w for w in lexicon if 3 <= len(w) <= 12]
    if len(vocab) < 100:
        raise X3DError("no word list found for synthetic sentences: apt-get install wamerican festlex-cmu")
    counts = Counter(p for w in vocab for p in lexicon.get(w, ()))
    if counts:
        inv = {p: 1.0 / np.sqrt(c) for p, c in counts.items()}
        mean_inv = float(np.mean(list(inv.values())))
        score = np.array([np.mean([inv[p] for p in lexicon[w]]) if lexicon.get(w) else mean_inv for w in vocab])
    else:
        score = np.ones(len(vocab))
    # Damp the preference so common words still appear: weight ~ score^2, not a greedy choice.
    weights = score**2
    return Vocabulary(tuple(vocab), weights / weights.sum(), {w: lexicon[w] for w in vocab if w in lexicon})


def make_sentence(rng: np.random.Generator, vocab: Vocabulary, min_words: int = 4, max_words: int = 13) -> str:
    """One sentence: content words mixed with function words, optional opener, comma and end mark."""
    n = int(rng.integers(min_words, max_words + 1))
    content = list(rng.choice(len(vocab.words), size=n, p=vocab.weights))
    tokens: list[str] = []
    if rng.random() < 0.2:
        tokens.append(str(rng.choice(OPENERS)) + ",")
    for i, idx in enumerate(content):
        if rng.random() < 0.55:
            tokens.append(str(rng.choice(FUNCTION_WORDS)))
        tokens.append(vocab.words[idx])
        if 1 < i < n - 2 and rng.random() < 0.12:
            tokens[-1] += ","
    tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
    end = rng.choice([".", ".", ".", "?", "!"])
    return " ".join(tokens).rstrip(",") + str(end)


def phone_coverage(sentences: list[str], vocab: Vocabulary) -> Counter:
    """Phone counts of the dictionary pronunciations of ``sentences`` (for reports and tests)."""
    counts: Counter = Counter()
    for s in sentences:
        for w in re.findall(r"[a-z]+", s.lower()):
            counts.update(vocab.phones.get(w, ()))
    return counts
