"""Question answering: exact match and F1 after SQuAD's answer normalisation (the official v1.1 / v2.0
evaluation scripts' rules), per question, with intervals; and the v2 no-answer threshold chosen on a split.

An answer is normalised by lower-casing, removing punctuation and the articles a / an / the, and collapsing
white space. A question's EM and F1 are the best over its gold answers; an unanswerable question (no gold
answer) scores 1 only for an empty prediction.
"""

from __future__ import annotations

import collections
import re
import string
from typing import Any, Mapping, Sequence

from core.tasks.metrics.bootstrap import Scored, score

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)
EM, F1, HAS_ANSWER = range(3)


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((collections.Counter(pred) & collections.Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def _golds(answers: Sequence[str]) -> list[str]:
    kept = [a for a in answers if normalize_answer(a)]
    return kept or [""]


def question_rows(predictions: Mapping[str, str], gold: Mapping[str, Sequence[str]]):
    """One row per question of ``gold`` (id -> gold answer texts, empty for none): EM, F1, has an answer."""
    import numpy as np

    missing = [qid for qid in gold if qid not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} questions have no prediction, such as {missing[0]!r}")
    rows = np.zeros((len(gold), 3))
    for i, (qid, answers) in enumerate(gold.items()):
        golds = _golds(answers)
        rows[i] = (max(exact_match(predictions[qid], g) for g in golds),
                   max(token_f1(predictions[qid], g) for g in golds), float(golds != [""]))
    return rows


def figures_of(rows) -> dict[str, float]:
    out = {"exact_match": rows[:, EM].mean(), "answer_f1": rows[:, F1].mean()}
    has = rows[:, HAS_ANSWER] > 0
    if 0 < has.sum() < len(rows):  # SQuAD v2: the figures on answerable and unanswerable questions apart
        out["has_answer_f1"] = rows[has, F1].mean()
        out["no_answer_f1"] = rows[~has, F1].mean()
    return out


def score_answers(predictions: Mapping[str, str], gold: Mapping[str, Sequence[str]], seed: int = 0,
                  resamples: int | None = None) -> Scored:
    rows = question_rows(predictions, gold)
    kwargs = {"resamples": resamples} if resamples else {}
    extra = {"evaluated": float(len(rows)), "unanswerable": float((rows[:, HAS_ANSWER] == 0).sum())}
    return score(rows, stable_figures(rows), extra, seed=seed, **kwargs)


def stable_figures(rows):
    """The figure function, with the v2 split figures present in every resample whenever the full split has them
    (a resample without unanswerable questions reads NaN for them, which the interval leaves out)."""
    split = 0 < rows[:, HAS_ANSWER].sum() < len(rows)

    def figures(r):
        out = figures_of(r)
        if split:
            out.setdefault("has_answer_f1", float("nan"))
            out.setdefault("no_answer_f1", float("nan"))
        return out

    return figures


def best_null_threshold(answers: Mapping[str, Any], gold: Mapping[str, Sequence[str]]) -> tuple[float, float]:
    """``(threshold, F1 there)``: the no-answer threshold that maximises mean F1 on a split, from the best span's
    text and ``null_score_diff`` of each :class:`core.tasks.qa_spans.Answer` computed with no threshold applied
    (``null_threshold=None``). Answering a question is worth its span's F1, abstaining is worth 1 when it has no
    answer; a question is answered when its ``null_score_diff`` <= the threshold."""
    items = []
    for qid, answers_ in gold.items():
        golds = _golds(answers_)
        a = answers[qid]
        span_f1 = max(token_f1(a.text, g) for g in golds) if a.text else float(golds == [""])
        items.append((a.null_score_diff, span_f1, float(golds == [""])))
    items.sort(key=lambda t: t[0])
    total = sum(abstain for _, _, abstain in items)  # threshold below every diff: abstain everywhere
    best, best_threshold = total, (items[0][0] - 1.0 if items else 0.0)
    for k, (diff, span_f1, abstain) in enumerate(items):
        total += span_f1 - abstain
        last_of_tie = k + 1 == len(items) or items[k + 1][0] != diff
        if last_of_tie and total > best:
            best, best_threshold = total, diff
    return float(best_threshold), best / len(items) if items else float("nan")
