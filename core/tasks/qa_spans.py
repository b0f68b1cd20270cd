"""Answers read back from start/end logits over a question's windows (n-best span search).

For each question, every window proposes its ``n_best`` highest start and end logits; a pair is a candidate
when both are context tokens, the end is not before the start and the span is at most ``max_answer_length``
tokens. The best candidate over all windows (score: start logit + end logit) is the answer. For SQuAD v2 the
"no answer" score is the lowest ``[CLS]`` start + end over the question's windows, and the question is answered
only when the best span beats it by more than ``null_threshold`` (``null_score_diff`` = null - best is kept,
so that :func:`best_null_threshold` can choose the threshold on a validation split).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class Answer:
    text: str  # "" for no answer
    score: float  # the best span's start + end logit (-inf when no span was valid)
    null_score_diff: float  # no-answer score - best span score; the answer stands when this is <= the threshold
    start: int = -1  # character span of the best span in the context
    end: int = -1


def best_answers(examples: Sequence[Mapping[str, Any]], features: Mapping[str, Sequence], start_logits: Sequence,
                 end_logits: Sequence, n_best: int = 20, max_answer_length: int = 30,
                 null_threshold: float | None = 0.0) -> dict[str, Answer]:
    """``{example id: Answer}``. ``examples`` have ``id`` and ``context``; ``features`` are the windows of
    :func:`core.tasks.qa_features.prepare_qa_features` (``_example_id``, ``_offsets``, ``_cls``) in the order of
    the logits (one row per window, padding beyond a window's length is ignored). ``null_threshold`` None
    means SQuAD v1.1: every question gets its best span."""
    import numpy as np

    by_example: dict[str, list[int]] = {}
    for f, example_id in enumerate(features["_example_id"]):
        by_example.setdefault(example_id, []).append(f)
    out = {}
    for example in examples:
        context = example["context"]
        best = (-np.inf, -1, -1)
        null = np.inf
        for f in by_example.get(example["id"], []):
            offsets = features["_offsets"][f]
            starts = np.asarray(start_logits[f], dtype=np.float64)[:len(offsets)]
            ends = np.asarray(end_logits[f], dtype=np.float64)[:len(offsets)]
            cls = features["_cls"][f]
            null = min(null, starts[cls] + ends[cls])
            for s in np.argsort(starts)[::-1][:n_best]:
                if offsets[s][0] < 0:
                    continue
                for e in np.argsort(ends)[::-1][:n_best]:
                    if offsets[e][0] < 0 or e < s or e - s + 1 > max_answer_length:
                        continue
                    score = starts[s] + ends[e]
                    if score > best[0]:
                        best = (score, offsets[s][0], offsets[e][1])
        score, c_start, c_end = best
        diff = float(null - score) if np.isfinite(score) else np.inf
        answered = np.isfinite(score) and (null_threshold is None or diff <= null_threshold)
        out[example["id"]] = (Answer(context[c_start:c_end], float(score), diff, int(c_start), int(c_end)) if answered
                              else Answer("", float(score), diff))
    return out
