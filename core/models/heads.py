"""Which task head a model (or a model folder's config) carries, and what that head outputs.

The model folder, its reload and every export format read this: which
``AutoModelFor...`` class rebuilds the head, which outputs the head returns
(``logits``, or ``start_logits`` and ``end_logits`` for question answering),
and whether those outputs have a sequence axis (token classification and
question answering) whose padding positions carry no prediction.

The kind is read from the class name of the head (``...ForTokenClassification``)
and, for sequence classification, from ``problem_type`` (``regression``,
``multi_label_classification``) and a single output. This mirrors
``core.tasks.kinds.detect_task`` (the recipe's task detector) for what export
needs; once that module is on main, :func:`kind_of` can return its ``TaskKind``
values instead (they are spelled the same).
"""

from __future__ import annotations

from typing import Any, Iterable

SEQUENCE = "sequence-classification"
TOKEN = "token-classification"
QUESTION_ANSWERING = "question-answering"
REGRESSION = "regression"
MULTI_LABEL = "multi-label"
KINDS = (SEQUENCE, TOKEN, QUESTION_ANSWERING, REGRESSION, MULTI_LABEL)

# suffix of the head class -> kind (QA also matches ...ForQuestionAnsweringSimple)
_SUFFIXES = (("ForTokenClassification", TOKEN), ("ForQuestionAnswering", QUESTION_ANSWERING),
             ("ForSequenceClassification", SEQUENCE))
_PROBLEM_TYPES = {"regression": REGRESSION, "multi_label_classification": MULTI_LABEL}
_AUTO = {TOKEN: "AutoModelForTokenClassification", QUESTION_ANSWERING: "AutoModelForQuestionAnswering"}
_OUTPUTS = {QUESTION_ANSWERING: ("start_logits", "end_logits")}


def _kind(class_names: Iterable[str], config: Any) -> str:
    head = next((kind for name in class_names if isinstance(name, str)
                 for suffix, kind in _SUFFIXES if suffix in name), SEQUENCE)
    if head != SEQUENCE:
        return head
    problem = getattr(config, "problem_type", None)
    if problem in _PROBLEM_TYPES:
        return _PROBLEM_TYPES[problem]
    # transformers treats a single output without a problem_type as regression
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
