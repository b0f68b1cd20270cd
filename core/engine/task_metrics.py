"""Each task's figures on a split: the model's predictions read back into the task's own terms and scored.

- token classification: word-level tags (each word's first piece) against the gold tags of the untokenized
  sentences (words cut off by ``max_length`` count as missed), entity P / R / F1 and token accuracy;
- question answering: the n-best span search over each question's windows (:mod:`core.tasks.qa_spans`), then
  SQuAD's exact match and F1. When the data has unanswerable questions (SQuAD v2) the no-answer threshold is the
  one that maximises F1 on the validation split (:func:`core.tasks.metrics.qa.best_null_threshold`, chosen for
  each model measured, the way SQuAD v2's evaluation chooses it) and is recorded as the ``null_threshold`` figure;
  the recipe's ``null_threshold`` stands only when the validation split has no unanswerable question;
- regression: predictions and targets in the data's units (any scaling inverted), Pearson, Spearman and MSE;
- multi-label: sigmoid probabilities at the recipe's threshold, micro / macro F1 and subset accuracy.

:func:`evaluate_task` gives the figures and, with ``intervals``, the :class:`~core.tasks.metrics.bootstrap.Scored`
whose per-example rows pair with another model's for "retained". Sequence classification is measured by
:mod:`core.metrics.accuracy`, as before. :func:`evaluate_predictor` measures anything that maps a batch of
inputs to the head's outputs (an exported ONNX graph, a reloaded folder) on the same terms, accuracy included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

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


# A forward pass: a collated batch (labels included) -> (the head's outputs by name as numpy, the loss or None).
Forward = Callable[[dict], tuple[dict[str, Any], float | None]]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what a deployed model is given


def output_names(kind: TaskKind) -> tuple[str, ...]:
    return ("start_logits", "end_logits") if kind is TaskKind.QUESTION_ANSWERING else ("logits",)


def _torch_forward(model, kind: TaskKind) -> Forward:
    device = model_device(model)
    names = output_names(kind)

    def forward(batch):
        result = model(**{k: v.to(device) for k, v in batch.items()})
        loss = getattr(result, "loss", None)
        return {n: getattr(result, n).float().cpu().numpy() for n in names}, (None if loss is None else float(loss))

    return forward


def _collect(forward: Forward, task, features, batch_size: int, check=None) -> tuple[list, float, list]:
    """The outputs per example (numpy arrays, padding cut off), the mean loss over the batches, and the labels
    (sequence classification only)."""
    from torch.utils.data import DataLoader

    ds = features.remove_columns([c for c in features.column_names if c.startswith("_")])
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=task.collator())
    out: list = []
    losses: list[float] = []
    labels: list = []
    kind = getattr(task, "kind", TaskKind.SEQUENCE_CLASSIFICATION)
    with torch.no_grad():
        for batch in loader:
            if check:
                check()
            lengths = batch["attention_mask"].sum(-1).tolist()
            named, loss = forward(batch)
            if loss is not None:
                losses.append(loss)
            if kind is TaskKind.QUESTION_ANSWERING:
                starts, ends = named["start_logits"], named["end_logits"]
                out.extend((starts[i], ends[i]) for i in range(len(starts)))
            elif kind is TaskKind.TOKEN_CLASSIFICATION:
                logits = named["logits"]
                out.extend(logits[i][:n] if task.tokenizer.padding_side == "right" else logits[i][-n:]
                           for i, n in enumerate(lengths))
            else:
                out.extend(named["logits"])
                if kind is TaskKind.SEQUENCE_CLASSIFICATION and "labels" in batch:
                    labels.extend(batch["labels"].tolist())
    return out, (sum(losses) / len(losses) if losses else math.nan), labels


def _outputs(model, task, features, batch_size: int, check=None) -> tuple[list, float]:
    """The model's outputs per example (numpy arrays, padding cut off) and its mean loss over the batches."""
    was_training = model.training
    model.eval()
    try:
        return _collect(_torch_forward(model, task.kind), task, features, batch_size, check)[:2]
    finally:
        model.train(was_training)


def _answers(task, features, raw, outputs, settings, threshold):
    from core.tasks.qa_spans import best_answers

    return best_answers(list(raw), features, [o[0] for o in outputs], [o[1] for o in outputs],
                        n_best=settings.n_best, max_answer_length=settings.max_answer_length,
                        null_threshold=threshold)


def choose_null_threshold(task, features, raw, outputs, settings) -> tuple[float, bool]:
    """(the no-answer threshold, whether it was chosen) from a split's outputs: the one that maximises F1 there
    (:func:`~core.tasks.metrics.qa.best_null_threshold`), or the recipe's ``null_threshold`` when the split has no
    unanswerable question to choose it by."""
    from core.tasks.metrics.qa import best_null_threshold

    gold = {e["id"]: list(e["answers"]["text"]) for e in raw}
    if not gold or all(answers for answers in gold.values()):
        return float(settings.null_threshold), False
    threshold, _ = best_null_threshold(_answers(task, features, raw, outputs, settings, None), gold)
    return threshold, True


def _rows(task, features, raw, outputs, settings, threshold=None):
    """(per-example rows, figure function, counts) of the task's metric module (``threshold``: QA's no-answer
    threshold, None for SQuAD v1.1)."""
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

        answers = _answers(task, features, raw, outputs, settings, threshold)
        gold = {e["id"]: list(e["answers"]["text"]) for e in raw}
        rows = qa.question_rows({k: a.text for k, a in answers.items()}, gold)
        extra = {"evaluated": float(len(rows)), "unanswerable": float((rows[:, qa.HAS_ANSWER] == 0).sum())}
        if threshold is not None:
            extra["null_threshold"] = float(threshold)
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


def _threshold(task, split: str, features, raw, outputs, settings, forward: Forward, batch_size: int,
               limit: int | None, check) -> float | None:
    """QA's no-answer threshold for a model: None without unanswerable questions, else chosen on the validation
    split (on ``outputs`` when ``split`` is the validation split, else on its own pass over it)."""
    if task.kind is not TaskKind.QUESTION_ANSWERING or not task.unanswerable:
        return None
    if split != "validation":
        features, raw = _limited(task, "validation", limit)
        outputs = _collect(forward, task, features, batch_size, check)[0]
    return choose_null_threshold(task, features, raw, outputs, settings)[0]


def _measure(forward: Forward, task, split: str, batch_size: int, settings, limit, check, intervals: bool,
             seed: int) -> TaskEvaluation:
    from core.tasks.metrics.bootstrap import score

    features, raw = _limited(task, split, limit)
    outputs, loss, _ = _collect(forward, task, features, batch_size, check)
    threshold = _threshold(task, split, features, raw, outputs, settings, forward, batch_size, limit, check)
    rows, figure_fn, extra = _rows(task, features, raw, outputs, settings, threshold)
    n = int(extra["evaluated"])
    if not n:
        return TaskEvaluation({}, loss, 0)
    if intervals:
        scored = score(rows, figure_fn, extra, seed=seed)
        return TaskEvaluation(scored.figures, loss, n, scored)
    figures = {k: float(v) for k, v in figure_fn(rows).items()}
    if "null_threshold" in extra:
        figures["null_threshold"] = extra["null_threshold"]
    return TaskEvaluation(figures, loss, n)


def evaluate_task(model, task, split: str, batch_size: int, settings, limit: int | None = None, check=None,
                  intervals: bool = False, seed: int = 0) -> TaskEvaluation:
    """The task's figures of ``model`` on ``split`` (``settings``: the recipe's data reference, for the QA span
    search and the multi-label threshold); with ``intervals`` their bootstrap intervals too."""
    was_training = model.training
    model.eval()
    try:
        return _measure(_torch_forward(model, task.kind), task, split, batch_size, settings, limit, check,
                        intervals, seed)
    finally:
        model.train(was_training)


def evaluate_predictor(predict: Callable[[dict], dict[str, Any]], task, split: str, batch_size: int, settings,
                       limit: int | None = None) -> TaskEvaluation:
    """The figures of ``predict`` (the model's inputs, :data:`INPUTS`, -> its head's outputs by name as arrays:
    an exported graph, a reloaded folder) on ``split``, any task kind; sequence classification gives
    ``accuracy``. No loss and no intervals: an export is compared with its model on the same examples."""
    import numpy as np

    names = output_names(getattr(task, "kind", TaskKind.SEQUENCE_CLASSIFICATION))

    def forward(batch):
        named = predict({k: v for k, v in batch.items() if k in INPUTS})
        return {n: np.asarray(named[n]) for n in names}, None

    if getattr(task, "kind", TaskKind.SEQUENCE_CLASSIFICATION) is TaskKind.SEQUENCE_CLASSIFICATION:
        features = task.split(split)
        if limit is not None and limit < len(features):
            features = features.select(range(limit))
        outputs, _, labels = _collect(forward, task, features, batch_size)
        if not labels:
            return TaskEvaluation({}, math.nan, 0)
        correct = np.stack(outputs).argmax(-1) == np.asarray(labels)
        return TaskEvaluation({"accuracy": float(correct.mean())}, math.nan, len(labels))
    return _measure(forward, task, split, batch_size, settings, limit, None, False, 0)
