"""Which task head a model (or a model folder's config) carries, and what that head outputs.

The model folder, its reload and every export format read this: which
``AutoModelFor...`` class rebuilds the head, which outputs the head returns
(``logits``, or ``start_logits`` and ``end_logits`` for question answering),
and whether those outputs have a sequence axis (token classification and
question answering) whose padding positions carry no prediction.

The kind is what :func:`core.tasks.kinds.detect_task` (the recipe's task
detector) reads from the head's class name (``...ForTokenClassification``) and,
for sequence classification, ``problem_type`` and a single output; the values
are :class:`~core.tasks.kinds.TaskKind`'s spellings. A model without a task head
is treated as a sentence classifier (a single output: a scorer), as the studio's
folders from before tasks were.
"""

from __future__ import annotations

from typing import Any, Iterable

from core.tasks.kinds import TaskKind, detect_task

SEQUENCE = TaskKind.SEQUENCE_CLASSIFICATION.value
TOKEN = TaskKind.TOKEN_CLASSIFICATION.value
QUESTION_ANSWERING = TaskKind.QUESTION_ANSWERING.value
REGRESSION = TaskKind.REGRESSION.value
MULTI_LABEL = TaskKind.MULTI_LABEL.value
KINDS = tuple(kind.value for kind in TaskKind)

_AUTO = {TOKEN: "AutoModelForTokenClassification", QUESTION_ANSWERING: "AutoModelForQuestionAnswering"}
_OUTPUTS = {QUESTION_ANSWERING: ("start_logits", "end_logits")}


def _kind(class_names: Iterable[str], config: Any) -> str:
    fields = {"architectures": [n for n in class_names if isinstance(n, str)],
              "problem_type": getattr(config, "problem_type", None),
              "num_labels": getattr(config, "num_labels", None), "id2label": getattr(config, "id2label", None)}
    found = detect_task(fields).kind
    if found is not None:
        return found.value
    # no head named: a sentence classifier, or a scorer when it has a single output (transformers' reading)
    return REGRESSION if int(getattr(config, "num_labels", 2) or 2) == 1 else SEQUENCE


def kind_of(model: Any) -> str:
    """The task kind of an in-memory model: its class decides the head (its config's ``architectures`` may be
    stale or empty), ``problem_type`` and the label count refine sequence classification."""
    return _kind([type(model).__name__], getattr(model, "config", None))


def config_kind(config: Any) -> str:
    """The task kind a config (as written into a model folder) names in ``architectures``; sequence
    classification when it names no head (the studio's folders before tasks)."""
    return _kind(getattr(config, "architectures", None) or (), config)


def auto_class(kind: str):
    """The transformers ``AutoModelFor...`` class that builds (and loads) the head of ``kind``."""
    import transformers

    return getattr(transformers, _AUTO.get(kind, "AutoModelForSequenceClassification"))


def output_names(kind: str) -> tuple[str, ...]:
    """The head's outputs, by the names transformers (and Optimum's ORTModel classes) give them."""
    return _OUTPUTS.get(kind, ("logits",))


def per_token(kind: str) -> bool:
    """Whether the outputs have a sequence axis (one prediction per token position)."""
    return kind in (TOKEN, QUESTION_ANSWERING)
