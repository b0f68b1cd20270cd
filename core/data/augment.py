"""The transfer set of Tang et al. 2019: augmented copies of the training sentences, for the teacher to label.

Three rules, applied word by word to whitespace-separated words (Tang et al., section 3.3):

- masking: with probability ``mask_p`` a word becomes the tokenizer's mask token (``[MASK]``), so the student
  learns what each word contributes;
- same kind: otherwise, with probability ``pos_p``, a word becomes another word of the same kind. Tang et al.
  use part-of-speech tags; the studio has no tagger, so a word's kind is approximated from the training text
  itself: the word most often seen just before it (words after "the" are mostly nouns and adjectives, after
  "to" mostly verbs), a one-neighbour distributional class. The replacement is drawn among the words of that
  kind in proportion to how often they occur;
- n-gram sampling: then, with probability ``ngram_p``, the sentence is cut to a random n-gram of its words,
  ``n`` between 1 and 5.

Everything is drawn from one ``random.Random(seed)`` and the word classes are built in sorted order, so the
same sentences, settings and seed give the same transfer set on any machine. Copies equal to their sentence
(or to an earlier copy) are dropped.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

START = "<s>"  # the kind-defining neighbour of a sentence's first word


@dataclass(frozen=True)
class Augmentation:
    """How a transfer set is made: ``copies`` tries per sentence and the three rules' probabilities."""

    copies: int = 0
    mask_p: float = 0.1
    pos_p: float = 0.1
    ngram_p: float = 0.25
    max_ngram: int = 5


class WordKinds:
    """Each word's kind (its most frequent left neighbour) and the words of each kind with their counts."""

    def __init__(self, sentences: Sequence[str]):
        left: dict[str, Counter] = {}
        counts: Counter = Counter()
        for sentence in sentences:
            words = sentence.split()
            for before, word in zip([START, *words], words):
                left.setdefault(word, Counter())[before] += 1
                counts[word] += 1
        # most frequent neighbour, ties broken alphabetically: independent of the order sentences came in
        self.kind = {word: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for word, c in sorted(left.items())}
        members: dict[str, list[str]] = {}
        for word in sorted(self.kind):
            members.setdefault(self.kind[word], []).append(word)
        self.members = members
        self.weights = {kind: [counts[w] for w in words] for kind, words in members.items()}

    def replacement(self, word: str, rng: random.Random) -> str:
        """Another word of ``word``'s kind (``word`` itself when it is alone in its kind or unseen)."""
        kind = self.kind.get(word)
        words = self.members.get(kind, []) if kind is not None else []
        if len(words) < 2:
            return word
        others = [(w, n) for w, n in zip(words, self.weights[kind]) if w != word]
        return rng.choices([w for w, _ in others], weights=[n for _, n in others], k=1)[0]


def augment_sentence(sentence: str, kinds: WordKinds, settings: Augmentation, rng: random.Random,
                     mask_token: str) -> str:
    """One augmented copy of ``sentence`` (masking, same-kind replacement, then n-gram sampling)."""
    words = sentence.split()
    out = []
    for word in words:
        draw = rng.random()
        if draw < settings.mask_p:
            out.append(mask_token)
        elif draw < settings.mask_p + settings.pos_p:
            out.append(kinds.replacement(word, rng))
        else:
            out.append(word)
    if out and rng.random() < settings.ngram_p:
        n = rng.randint(1, min(settings.max_ngram, len(out)))
        start = rng.randint(0, len(out) - n)
        out = out[start:start + n]
    return " ".join(out)


def transfer_set(texts: Sequence[str], settings: Augmentation, seed: int, mask_token: str,
                 pairs: Sequence[str] | None = None) -> tuple[list[str], list[str] | None]:
    """Augmented copies of ``texts`` (and of their second texts ``pairs``, each text augmented on its own):
    ``settings.copies`` tries per sentence, copies equal to the original or to an earlier copy dropped.
    Returns the new first texts and (for pairs) the new second texts."""
    rng = random.Random(seed)
    kinds = WordKinds(list(texts) + list(pairs or []))
    seen: set[tuple[str, str | None]] = set()
    firsts: list[str] = []
    seconds: list[str] = []
    for i, text in enumerate(texts):
        second = pairs[i] if pairs is not None else None
        seen.add((text, second))
        for _ in range(settings.copies):
            new = augment_sentence(text, kinds, settings, rng, mask_token)
            new_second = augment_sentence(second, kinds, settings, rng, mask_token) if second is not None else None
            if not new.strip() or (new, new_second) in seen:
                continue
            seen.add((new, new_second))
            firsts.append(new)
            if new_second is not None:
                seconds.append(new_second)
    return firsts, (seconds if pairs is not None else None)
