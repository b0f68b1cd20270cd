"""Each task's figures on a split: the model's predictions read back into the task's own terms and scored.

- token classification: word-level tags (each word's first piece) against the gold tags of the untokenized
  sentences (words cut off by ``max_length`` count as missed), entity P / R / F1 and token accuracy;
- question answering: the n-best span search over each question's windows (:mod:`core.tasks.qa_spans`), with the
  no-answer threshold when the data has unanswerable questions, then SQuAD's exact match and F1;
- regression: predictions and targets in the data's units (any scaling inverted), Pearson, Spearman and MSE;
- multi-label: sigmoid probabilities at the recipe's threshold, micro / macro F1 and subset accuracy.

:func:`evaluate_task` gives the figures and, with ``intervals``, the :class:`~core.tasks.metrics.bootstrap.Scored`
whose per-example rows pair with another model's for "retained". Sequence classification is measured by
:mod:`core.metrics.accuracy`, as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from core.metrics.accuracy import model_device
from core.tasks.kinds import TaskKind


@dataclass
class TaskEvaluation:
    figures: dict[str, float]  # the task's figures (no intervals)
    loss: float  # the model's own loss, averaged over batches
    evaluated: int  # examples measured (sentences, questions, rows)
    scored: Any = None  # core.tasks.metrics.bootstrap.Scored when intervals were asked for


def _limited(task, split: str, limit: int | None):
    """(features, raw examples) of ``split``, the first ``limit`` examples (QA: questions with all their windows)."""
    features, raw = task.split(split), task.raw[split]
    if limit is None or limit >= len(raw):
        return features, raw
    raw = raw.select(range(limit))
    if task.kind is TaskKind.QUESTION_ANSWERING:
        kept = set(raw["id"])
        return features.select([i for i, e in enumerate(features["_example_id"]) if e in kept]), raw
    return features.select(range(limit)), raw


def _outputs(model, task, features, batch_size: int, check=None) -> tuple[list, float]:
    """The model's outputs per example (numpy arrays, padding cut off) and its mean loss over the batches."""
    from torch.utils.data import DataLoader

    ds = features.remove_columns([c for c in features.column_names if c.startswith("_")])
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=task.collator())
    was_training = model.training
    model.eval()
    device = model_device(model)
    out: list = []
    losses: list[float] = []
    with torch.no_grad():
        for batch in loader:
            if check:
                check()
            lengths = batch["attention_mask"].sum(-1).tolist()
            batch = {k: v.to(device) for k, v in batch.items()}
            result = model(**batch)
            if getattr(result, "loss", None) is not None:
                losses.append(float(result.loss))
            if task.kind is TaskKind.QUESTION_ANSWERING:
                starts, ends = result.start_logits.float().cpu().numpy(), result.end_logits.float().cpu().numpy()
                out.extend((starts[i], ends[i]) for i in range(len(starts)))
            elif task.kind is TaskKind.TOKEN_CLASSIFICATION:
                logits = result.logits.float().cpu().numpy()
                out.extend(logits[i][:n] if task.tokenizer.padding_side == "right" else logits[i][-n:]
                           for i, n in enumerate(lengths))
            else:
                out.extend(result.logits.float().cpu().numpy())
    model.train(was_training)
    return out, (sum(losses) / len(losses) if losses else math.nan)


def _rows(task, features, raw, outputs, settings):
    """(per-example rows, figure function, counts) of the task's metric module."""
    import numpy as np

    kind = task.kind
    if kind is TaskKind.TOKEN_CLASSIFICATION:
        from core.tasks.metrics import entities
        from core.tasks.token_features import word_predictions

        predicted = [word_predictions(out.argmax(-1), ids, n, task.label_names)
                     for out, ids, n in zip(outputs, features["_word_ids"], features["_words"])]
        gold = [[task.label_names[t] for t in tags] for tags in raw["tags"]]
        rows = entities.sentence_rows(gold, predicted, task.scheme)
        counts = {"evaluated": float(len(gold)), "entities": float(rows[:, entities.GOLD].sum())}
        return rows, entities.figures_of, counts
    if kind is TaskKind.QUESTION_ANSWERING:
        from core.tasks.metrics import qa
        from core.tasks.qa_spans import best_answers

        threshold = settings.null_threshold if task.unanswerable else None
        answers = best_answers(list(raw), features, [o[0] for o in outputs], [o[1] for o in outputs],
                               n_best=settings.n_best, max_answer_length=settings.max_answer_length,
                               null_threshold=threshold)
        gold = {e["id"]: list(e["answers"]["text"]) for e in raw}
        rows = qa.question_rows({k: a.text for k, a in answers.items()}, gold)
        extra = {"evaluated": float(len(rows)), "unanswerable": float((rows[:, qa.HAS_ANSWER] == 0).sum())}
        return rows, qa.stable_figures(rows), extra
    if kind is TaskKind.REGRESSION:
        from core.tasks.metrics import regression

        predictions = [float(np.asarray(o).reshape(-1)[0]) for o in outputs]
        if task.scaling is not None:
            predictions = task.scaling.invert(predictions)
        rows = np.column_stack([np.asarray(predictions), np.asarray(raw["label"], dtype=np.float64)])
        return rows, regression.figures_of, {"evaluated": float(len(rows))}
    if kind is TaskKind.MULTI_LABEL:
        from core.tasks.metrics import multilabel

        rows = multilabel.label_rows(multilabel.sigmoid(np.stack(outputs)), np.asarray(raw["labels"]),
                                     settings.label_threshold)
        return rows, multilabel.figures_of, {"evaluated": float(len(rows)), "threshold": settings.label_threshold}
    raise ValueError(f"{kind.value} is measured by core.metrics.accuracy")


def evaluate_task(model, task, split: str, batch_size: int, settings, limit: int | None = None, check=None,
                  intervals: bool = False, seed: int = 0) -> TaskEvaluation:
    """The task's figures of ``model`` on ``split`` (``settings``: the recipe's data reference, for the QA span
    search and the multi-label threshold); with ``intervals`` their bootstrap intervals too."""
    from core.tasks.metrics.bootstrap import score

    features, raw = _limited(task, split, limit)
    outputs, loss = _outputs(model, task, features, batch_size, check)
    rows, figure_fn, extra = _rows(task, features, raw, outputs, settings)
    n = int(extra["evaluated"])
    if not n:
        return TaskEvaluation({}, loss, 0)
    if intervals:
        scored = score(rows, figure_fn, extra, seed=seed)
        return TaskEvaluation(scored.figures, loss, n, scored)
    return TaskEvaluation({k: float(v) for k, v in figure_fn(rows).items()}, loss, n)
