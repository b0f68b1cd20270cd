"""Token classification: entity-level precision, recall and F1 (seqeval) and token accuracy.

Two ways of reading entities from tags, as seqeval has them:

- the default, conlleval-compatible: ``seqeval.metrics.sequence_labeling.get_entities``, which reads every
  scheme leniently as ``conlleval.pl`` does (an ``I-X`` after ``O`` starts an entity);
- strict: ``seqeval.scheme.Entities`` with the data's scheme (IOB2, IOB1 or BIOES), where an entity counts only
  when its tags are well formed in that scheme.

An entity is right when its type, start and end all match. Counts are kept per sentence (true positives,
predicted and gold entities, right tokens, tokens) so the bootstrap resamples sentences, and F1 =
2 TP / (predicted + gold), the same number seqeval's ``f1_score`` (micro) and conlleval print.
"""

from __future__ import annotations

from typing import Sequence

from core.tasks.metrics.bootstrap import Scored, score
from core.tasks.tags import TagScheme

MODES = ("conlleval", "strict")
# columns of a sentence's row
TP, PRED, GOLD, RIGHT, TOKENS, S_TP, S_PRED, S_GOLD = range(8)


def _seqeval_scheme(scheme: TagScheme):
    from seqeval.scheme import IOB1, IOB2, IOBES

    return {TagScheme.IOB1: IOB1, TagScheme.IOB2: IOB2, TagScheme.BIOES: IOBES}[TagScheme(scheme)]


def _lenient(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    from seqeval.metrics.sequence_labeling import get_entities

    return set(get_entities(list(tags)))


def _strict(sequences: Sequence[Sequence[str]], scheme: TagScheme) -> list[set[tuple]]:
    from seqeval.scheme import Entities

    if not sequences:
        return []
    entities = Entities([list(s) for s in sequences], _seqeval_scheme(scheme), suffix=False)
    out: list[set[tuple]] = [set() for _ in sequences]
    for sentence in entities.entities:
        for entity in sentence:
            out[entity.sent_id].add(entity.to_tuple()[1:])
    return out


def sentence_rows(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: TagScheme):
    """One row of counts per sentence (columns :data:`TP` ... :data:`S_GOLD`)."""
    import numpy as np

    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i + 1}: {len(g)} gold tags but {len(p)} predicted")
    strict_gold, strict_pred = _strict(gold, scheme), _strict(predicted, scheme)
    rows = np.zeros((len(gold), 8))
    for i, (g, p) in enumerate(zip(gold, predicted)):
        eg, ep = _lenient(g), _lenient(p)
        rows[i] = (len(eg & ep), len(ep), len(eg), sum(a == b for a, b in zip(g, p)), len(g),
                   len(strict_gold[i] & strict_pred[i]), len(strict_pred[i]), len(strict_gold[i]))
    return rows


def _prf(tp: float, pred: float, gold: float) -> tuple[float, float, float]:
    precision = tp / pred if pred else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * tp / (pred + gold) if pred + gold else 0.0
    return precision, recall, f1


def figures_of(rows) -> dict[str, float]:
    total = rows.sum(axis=0)
    p, r, f = _prf(total[TP], total[PRED], total[GOLD])
    sp, sr, sf = _prf(total[S_TP], total[S_PRED], total[S_GOLD])
    return {"entity_f1": f, "entity_precision": p, "entity_recall": r,
            "strict_entity_f1": sf, "strict_entity_precision": sp, "strict_entity_recall": sr,
            "token_accuracy": total[RIGHT] / total[TOKENS] if total[TOKENS] else float("nan")}


def score_entities(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: TagScheme,
                   seed: int = 0, resamples: int | None = None) -> Scored:
    """Entity figures (both modes) and token accuracy over word-level tag sequences, with intervals."""
    rows = sentence_rows(gold, predicted, scheme)
    extra = {"evaluated": float(len(gold)), "entities": float(rows[:, GOLD].sum())}
    kwargs = {"resamples": resamples} if resamples else {}
    return score(rows, figures_of, extra, seed=seed, **kwargs)
