"""The task kinds, detected from a model folder's ``config.json``, and the refusal of a contradicting task.

A fine-tuned folder says what it was trained for in three places that
transformers writes: ``architectures`` (the head class, e.g.
``BertForTokenClassification``), ``problem_type`` (``regression``,
``multi_label_classification``, ``single_label_classification``) and
``id2label`` (the number and names of its labels). A folder without a task
head (``BertModel``, a masked-LM checkpoint) fits every task: the head is new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

from core.errors import ModelLoadError


class TaskKind(str, Enum):
    """What a model predicts; the value is the recipe's spelling."""

    SEQUENCE_CLASSIFICATION = "sequence-classification"
    TOKEN_CLASSIFICATION = "token-classification"
    QUESTION_ANSWERING = "question-answering"
    REGRESSION = "regression"
    MULTI_LABEL = "multi-label"

    @classmethod
    def parse(cls, value: Any) -> "TaskKind":
        """The kind spelled ``value`` (its recipe spelling, any case, ``_`` for ``-``); an error lists the five."""
        if isinstance(value, cls):
            return value
        text = str(value).strip().lower().replace("_", "-") if isinstance(value, str) else None
        for kind in cls:
            if kind.value == text:
                return kind
        raise ValueError(f"unknown task {value!r}; the studio knows {', '.join(k.value for k in cls)}")


# Suffix of the head class name -> task. Sequence classification is refined by problem_type and the label count.
_HEADS = (("ForTokenClassification", TaskKind.TOKEN_CLASSIFICATION),
          ("ForQuestionAnswering", TaskKind.QUESTION_ANSWERING),
          ("ForSequenceClassification", TaskKind.SEQUENCE_CLASSIFICATION))
_PROBLEM_TYPES = {"regression": TaskKind.REGRESSION, "multi_label_classification": TaskKind.MULTI_LABEL,
                  "single_label_classification": TaskKind.SEQUENCE_CLASSIFICATION}
_GENERIC_LABEL = re.compile(r"LABEL_\d+")


@dataclass(frozen=True)
class Detection:
    """What a folder's config says about its head: ``kind`` is None when it has no task head."""

    kind: TaskKind | None
    reason: str  # the evidence, for messages: "config.json names BertForTokenClassification"
    num_labels: int | None = None  # outputs of the head (None without a head; QA heads have 2: start and end)
    label_names: tuple[str, ...] = ()  # from id2label, empty when they are transformers' LABEL_0, LABEL_1...


def _label_names(config: Mapping[str, Any]) -> tuple[str, ...]:
    id2label = config.get("id2label")
    if not isinstance(id2label, Mapping) or not id2label:
        return ()
    try:
        ordered = [str(v) for _, v in sorted(id2label.items(), key=lambda kv: int(kv[0]))]
    except (TypeError, ValueError):
        return ()
    return () if all(_GENERIC_LABEL.fullmatch(n) for n in ordered) else tuple(ordered)


def _num_labels(config: Mapping[str, Any]) -> int | None:
    id2label = config.get("id2label")
    if isinstance(id2label, Mapping) and id2label:
        return len(id2label)
    value = config.get("num_labels")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def detect_task(config: Mapping[str, Any]) -> Detection:
    """The task a model's ``config.json`` (as a mapping) was fine-tuned for, with the evidence."""
    architectures = [a for a in config.get("architectures") or () if isinstance(a, str)]
    problem = config.get("problem_type")
    names, count = _label_names(config), _num_labels(config)
    head = next(((arch, kind) for arch in architectures for suffix, kind in _HEADS if arch.endswith(suffix)), None)
    if head is None and problem in _PROBLEM_TYPES:  # a config written without architectures
        return Detection(_PROBLEM_TYPES[problem], f"config.json says problem_type {problem!r}", count, names)
    if head is None:
        named = f"names {', '.join(architectures)}" if architectures else "names no architecture"
        return Detection(None, f"config.json {named}, not a task head the studio fine-tunes", None, ())
    arch, kind = head
    reason = f"config.json names {arch}"
    if kind is TaskKind.QUESTION_ANSWERING:
        return Detection(kind, reason, 2, ())
    if kind is TaskKind.SEQUENCE_CLASSIFICATION:
        if problem in _PROBLEM_TYPES:
            kind, reason = _PROBLEM_TYPES[problem], f"{reason} with problem_type {problem!r}"
        elif count == 1:  # transformers treats one output without a problem_type as regression
            kind, reason = TaskKind.REGRESSION, f"{reason} with a single output and no problem_type"
    return Detection(kind, reason, count, names)


def check_task(requested: TaskKind | str, detection: Detection, where: str = "the model folder",
               num_labels: int | None = None) -> TaskKind:
    """``requested`` when the folder's head allows it; otherwise a :class:`ModelLoadError` naming both.

    ``num_labels`` is what the data needs (classes, tags or labels); a fine-tuned head with another count is
    refused too, since loading it would silently replace the head that was trained.
    """
    kind = TaskKind.parse(requested)
    if detection.kind is None:
        return kind
    if detection.kind is not kind:
        raise ModelLoadError(
            f"the task is {kind.value}, but {where} holds a {detection.kind.value} model ({detection.reason}); "
            f"choose task {detection.kind.value}, or a model without a task head to fine-tune for {kind.value}")
    counted = kind not in (TaskKind.QUESTION_ANSWERING, TaskKind.REGRESSION)
    if counted and num_labels is not None and detection.num_labels is not None and num_labels != detection.num_labels:
        names = f" ({', '.join(detection.label_names)})" if detection.label_names else ""
        raise ModelLoadError(
            f"the data has {num_labels} labels, but {where}'s {kind.value} head has {detection.num_labels}{names} "
            f"({detection.reason}); use data with the head's labels, or a model without a task head")
    return kind
