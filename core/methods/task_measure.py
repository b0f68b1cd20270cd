"""How well a model does on a task, in the terms the importance and ablation steps compare.

Sentence classification keeps its accuracy (ties broken by the loss). The other task kinds have no accuracy: their
headline figures (entity F1, SQuAD F1, Pearson, micro F1) need the untokenized examples and a span search, and move
in coarse steps on the few hundred examples a step measures one ablation on; so an ablation on those tasks compares
the task's own loss, the loss of the HF head given the task's targets (token cross-entropy with -100 ignored, start
and end cross-entropy, MSE, per-label BCE), which is what the gradient importance differentiates too.
"""

from __future__ import annotations

import math

import torch

from core.metrics.accuracy import evaluate_accuracy, model_device
from core.tasks.kinds import TaskKind

SEQUENCE = TaskKind.SEQUENCE_CLASSIFICATION


def task_kind(task) -> TaskKind:
    """The kind of a run's task data (sequence classification where it says none)."""
    from core.applicability import task_of

    return TaskKind.parse(task_of(task))


def has_accuracy(kind: TaskKind | str) -> bool:
    return TaskKind.parse(kind) is SEQUENCE


def _weight(batch: dict) -> int:
    """What the head's mean loss averages over: labelled tokens for token classification, else examples."""
    labels = batch.get("labels")
    if labels is not None and labels.dim() == 2 and not labels.is_floating_point():
        return int((labels != -100).sum())
    first = next(iter(batch.values()))
    return int(first.shape[0])


@torch.no_grad()
def evaluate_loss(model, loader, check=None) -> dict:
    """The head's own loss over ``loader`` (weighted as the head averages it) and the examples counted."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    total = weight = examples = 0
    for batch in loader:
        if check:
            check()
        batch = {k: v.to(device) for k, v in batch.items()}
        n = _weight(batch)
        total += float(model(**batch).loss.float()) * n
        weight += n
        examples += int(batch["input_ids"].shape[0])
    model.train(was_training)
    return {"loss": total / weight if weight else math.nan, "samples": examples}


def evaluate(model, loader, kind: TaskKind | str = SEQUENCE, check=None) -> dict:
    """``{"score", "loss", "samples", "measure"}``: ``score`` is higher-better, the accuracy where the task has one
    (``measure`` "accuracy"), else minus the loss (``measure`` "loss")."""
    if has_accuracy(kind):
        result = evaluate_accuracy(model, loader, check=check)
        return {"score": result["accuracy"], "loss": result["loss"], "samples": result["samples"],
                "measure": "accuracy"}
    result = evaluate_loss(model, loader, check)
    return {"score": -result["loss"], **result, "measure": "loss"}
