"""Tag schemes of entity taggers: IOB1, IOB2 and BIOES, detected from the tags and validated.

- IOB2: every entity starts with ``B-``; ``I-X`` continues an ``X`` entity.
- IOB1 (the original CoNLL-2003 files): an entity starts with ``I-``; ``B-X`` only
  separates two adjacent ``X`` entities.
- BIOES: ``S-`` single-token entities, ``B-`` ... ``E-`` for longer ones.

Anything else (tags without a prefix, BILOU's ``L-`` / ``U-``, a prefix after the type)
is an unknown scheme and is refused, with the first tag that shows it.
"""

from __future__ import annotations

from enum import Enum
from typing import Callable, Sequence

from core.errors import DataLoadError

OUTSIDE = "O"
PREFIXES = ("B", "I", "E", "S")
Locate = Callable[[int, int], str]  # (sentence index, token index) -> "file.conll, line 12"


class TagScheme(str, Enum):
    IOB1 = "IOB1"
    IOB2 = "IOB2"
    BIOES = "BIOES"


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) of a tag: ``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in PREFIXES or not kind:
        raise ValueError(tag)
    return prefix, kind


def _refuse(message: str, locate: Locate, s: int, t: int) -> DataLoadError:
    return DataLoadError(f"{locate(s, t)}: {message}")


def detect_scheme(sentences: Sequence[Sequence[str]], locate: Locate) -> TagScheme:
    """The scheme of ``sentences`` (lists of tags), after checking every tag against it.

    ``locate(sentence, token)`` names where a tag is, for the error. A file where entities start with ``I-`` in
    some places and with ``B-`` after ``O`` in others fits no scheme and is refused, both places named.
    """
    has_es = None
    i_start = b_start = None  # first entity opened by I- (IOB1) and by B- not after the same type (IOB2)
    for s, tags in enumerate(sentences):
        previous = (OUTSIDE, "")
        for t, tag in enumerate(tags):
            try:
                prefix, kind = split_tag(tag)
            except ValueError:
                raise _refuse(f"tag {tag!r} fits no tag scheme the studio reads (IOB1, IOB2, BIOES: 'O', or "
                              "B-/I-/E-/S- and a type, such as 'B-PER')", locate, s, t) from None
            if prefix in ("E", "S") and has_es is None:
                has_es = (s, t)
            if prefix == "I" and previous[1] != kind and i_start is None:
                i_start = (s, t)
            if prefix == "B" and previous[1] != kind and b_start is None:
                b_start = (s, t)
            previous = (prefix, kind)
    if has_es is not None:
        _check_bioes(sentences, locate)
        return TagScheme.BIOES
    if i_start is None:
        return TagScheme.IOB2
    if b_start is None:
        return TagScheme.IOB1
    raise _refuse(f"an entity starts with I- here (IOB1), but at {locate(*b_start)} one starts with B- after a "
                  f"different tag (IOB2); the tags fit no single scheme", locate, *i_start)


def _check_bioes(sentences: Sequence[Sequence[str]], locate: Locate) -> None:
    for s, tags in enumerate(sentences):
        open_kind = None  # the type of the entity a B- or I- left open
        for t, tag in enumerate(tags):
            prefix, kind = split_tag(tag)
            if prefix in ("I", "E") and open_kind != kind:
                raise _refuse(f"BIOES tag {tag!r} does not continue a B-{kind} entity", locate, s, t)
            if prefix in ("B", "S", OUTSIDE) and open_kind is not None:
                raise _refuse(f"BIOES entity {open_kind!r} opened before is not closed by E-{open_kind} before "
                              f"{tag!r}", locate, s, t)
            open_kind = kind if prefix in ("B", "I") else None
        if open_kind is not None:
            raise _refuse(f"BIOES entity {open_kind!r} is not closed by E-{open_kind} at the end of the sentence",
                          locate, s, len(tags) - 1)


def order_labels(tags: set[str] | Sequence[str]) -> list[str]:
    """Label names in a stable order: ``O`` first, then by type and B, I, E, S."""
    rank = {p: i for i, p in enumerate(PREFIXES)}
    rest = sorted((t for t in set(tags) if t != OUTSIDE), key=lambda t: (split_tag(t)[1], rank[split_tag(t)[0]]))
    return [OUTSIDE, *rest]


def continuation(tag: str, scheme: TagScheme, last: bool) -> str:
    """The tag of a word's second and later word pieces when every piece is labelled.

    A piece inside a word continues its entity: ``B-X`` -> ``I-X``; in BIOES ``S-X`` and ``E-X`` become ``I-X`` on
    every piece but the last, which keeps ``E-X`` (and ``S-X`` ends as ``E-X``).
    """
    if tag == OUTSIDE:
        return tag
    prefix, kind = split_tag(tag)
    if scheme is TagScheme.BIOES and prefix in ("S", "E"):
        return f"E-{kind}" if last else f"I-{kind}"
    return tag if prefix == "I" else f"I-{kind}"


def first_piece(tag: str, scheme: TagScheme, single: bool) -> str:
    """The tag of a word's first piece when every piece is labelled: BIOES ``S-X`` becomes ``B-X``, ``E-X`` becomes
    ``I-X``, when the word has more than one piece (``single`` False)."""
    if single or scheme is not TagScheme.BIOES or tag == OUTSIDE:
        return tag
    prefix, kind = split_tag(tag)
    return {"S": f"B-{kind}", "E": f"I-{kind}"}.get(prefix, tag)
