"""Token classification: tags aligned to word pieces, and word-level predictions read back.

A word split into several pieces has one tag. ``first`` (the default, as in the usual recipes) labels its first
piece and gives the rest -100, which the loss ignores; ``all`` labels every piece, continuing the entity
(``B-X`` on the first piece, ``I-X`` on the rest; BIOES's ``S-`` / ``E-`` spread over the pieces). Either way,
figures are computed per word, from the prediction on each word's first piece (``_word_ids`` keeps the map).
"""

from __future__ import annotations

from typing import Any, Sequence

from core.errors import DataLoadError
from core.tasks.tags import OUTSIDE, TagScheme, continuation, first_piece

IGNORE = -100
LABEL_PIECES = ("first", "all")


def align_tags(word_ids: Sequence[int | None], tags: Sequence[int], label_names: Sequence[str],
               scheme: TagScheme, pieces: str = "first") -> list[int]:
    """One label per piece for a sentence's ``tags`` (ids into ``label_names``), given the tokenizer's
    ``word_ids`` (None for special tokens)."""
    if pieces not in LABEL_PIECES:
        raise ValueError(f"label pieces must be one of {LABEL_PIECES}; got {pieces!r}")
    index = {n: i for i, n in enumerate(label_names)}
    counts: dict[int, int] = {}
    for w in word_ids:
        if w is not None:
            counts[w] = counts.get(w, 0) + 1
    out, previous, seen = [], None, 0
    for w in word_ids:
        if w is None:
            out.append(IGNORE)
        elif w != previous:
            seen = 1
            tag = label_names[tags[w]]
            out.append(index[first_piece(tag, scheme, counts[w] == 1)] if pieces == "all" else tags[w])
        else:
            seen += 1
            if pieces == "first":
                out.append(IGNORE)
            else:
                name = continuation(label_names[tags[w]], scheme, last=seen == counts[w])
                if name not in index:  # e.g. I-MISC never seen in the data; the word's own tag stands in
                    name = label_names[tags[w]]
                out.append(index[name])
        previous = w
    return out


def tokenize_token_data(ds, tokenizer, label_names: Sequence[str], scheme: TagScheme, max_length: int = 128,
                        pieces: str = "first"):
    """``input_ids``, ``attention_mask``, ``labels`` and ``_word_ids`` (-1 for special tokens) for each sentence of
    ``ds`` (columns ``tokens``, ``tags``); ``_words`` counts the sentence's words, so that words cut off by
    ``max_length`` are counted as missed rather than vanishing from the figures."""
    if not getattr(tokenizer, "is_fast", False):
        raise DataLoadError("token classification needs a fast tokenizer (one with word ids); the model folder's "
                            "tokenizer is a slow one: add its tokenizer.json")

    def encode(batch):
        enc = tokenizer(batch["tokens"], is_split_into_words=True, truncation=True, max_length=max_length)
        labels, words = [], []
        for i, tags in enumerate(batch["tags"]):
            ids = enc.word_ids(i)
            labels.append(align_tags(ids, tags, label_names, scheme, pieces))
            words.append([-1 if w is None else w for w in ids])
        enc["labels"] = labels
        enc["_word_ids"] = words
        enc["_words"] = [len(t) for t in batch["tokens"]]
        return enc

    return ds.map(encode, batched=True, remove_columns=ds.column_names)


def word_predictions(piece_predictions: Sequence[int], word_ids: Sequence[int], words: int,
                     label_names: Sequence[str]) -> list[str]:
    """The tag predicted for each of a sentence's ``words``: the prediction on its first piece; a word with no
    piece (cut off by the maximum length) reads as ``O``."""
    out = [OUTSIDE] * words
    seen = set()
    for prediction, w in zip(piece_predictions, word_ids):
        if w is None or w < 0 or w in seen:
            continue
        seen.add(w)
        if w < words:
            out[w] = label_names[int(prediction)]
    return out


def predictions_from_logits(logits: Any, features, label_names: Sequence[str]) -> list[list[str]]:
    """Word-level tags for every tokenized sentence, from piece logits ``(sentences, pieces, labels)`` (padded)."""
    import numpy as np

    best = np.asarray(logits).argmax(-1)
    return [word_predictions(best[i][:len(ids)], ids, n, label_names)
            for i, (ids, n) in enumerate(zip(features["_word_ids"], features["_words"]))]
