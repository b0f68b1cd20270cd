"""Each task's figures: their names, labels and help, in the style of :mod:`core.metrics.figures`, and the
headline figure that "retained" compares against the baseline's.

Headlines, and why:

- sequence-classification: ``accuracy`` (what the studio reports today);
- token-classification: ``entity_f1``, conlleval's FB1, the figure NER papers and the CoNLL shared tasks report;
- question-answering: ``answer_f1``, SQuAD's F1 (partial credit for overlapping answers, steadier than EM);
- regression: ``pearson``, the correlation GLUE's STS-B leads with; it is higher-better like the other
  headlines, so "retained" reads the same way (MSE, lower-better, would invert it);
- multi-label: ``micro_f1``, which pools every decision and is not swung by a rare label as macro F1 is.
"""

from __future__ import annotations

from core.metrics.figure_base import FIGURES, Figure
from core.tasks.kinds import TaskKind

_HOW = "in brackets a 95 % bootstrap interval over the examples (sentences, questions, rows) evaluated"
_ENTITY = "an entity is right when its type, first and last word all match"


def _f(key: str, label: str, kind: str, help: str) -> Figure:
    unit = "%" if kind == "fraction" else ""
    return Figure(key, label, "accuracy", kind, f"{help}; {_HOW}.", unit)


TOKEN_FIGURES = (
    _f("entity_f1", "Entity F1", "fraction", f"Entity-level F1 as conlleval.pl counts entities ({_ENTITY})"),
    _f("entity_precision", "Entity precision", "fraction", "Share of predicted entities that are right"),
    _f("entity_recall", "Entity recall", "fraction", "Share of gold entities found"),
    _f("strict_entity_f1", "Entity F1 (strict)", "fraction",
       "Entity-level F1 counting only entities whose tags are well formed in the data's scheme (seqeval strict)"),
    _f("strict_entity_precision", "Entity precision (strict)", "fraction", "Precision, strict entities"),
    _f("strict_entity_recall", "Entity recall (strict)", "fraction", "Recall, strict entities"),
    _f("token_accuracy", "Token accuracy", "fraction", "Share of words whose tag is right, O included"),
)
QA_FIGURES = (
    _f("answer_f1", "F1", "fraction",
       "SQuAD F1: word overlap of the predicted and the best-matching gold answer after normalisation"),
    _f("exact_match", "Exact match", "fraction", "Share of questions answered exactly (after SQuAD normalisation)"),
    _f("has_answer_f1", "F1, answerable", "fraction", "F1 on the questions that have an answer (SQuAD v2)"),
    _f("no_answer_f1", "F1, unanswerable", "fraction",
       "Share of unanswerable questions left unanswered (SQuAD v2)"),
)
REGRESSION_FIGURES = (
    _f("pearson", "Pearson r", "number", "Pearson correlation of predictions and targets"),
    _f("spearman", "Spearman ρ", "number", "Spearman rank correlation of predictions and targets"),
    _f("mse", "MSE", "number", "Mean squared error, in the targets' own units (lower is better)"),
)
MULTI_LABEL_FIGURES = (
    _f("micro_f1", "Micro F1", "fraction", "F1 over every (example, label) decision at the threshold"),
    _f("macro_f1", "Macro F1", "fraction", "Mean of the labels' own F1 at the threshold"),
    _f("subset_accuracy", "Subset accuracy", "fraction", "Share of examples whose whole label set is right"),
)
_SEQUENCE = tuple(f for f in FIGURES if f.key == "accuracy")

TASK_FIGURES: dict[TaskKind, tuple[Figure, ...]] = {
    TaskKind.SEQUENCE_CLASSIFICATION: _SEQUENCE,
    TaskKind.TOKEN_CLASSIFICATION: TOKEN_FIGURES,
    TaskKind.QUESTION_ANSWERING: QA_FIGURES,
    TaskKind.REGRESSION: REGRESSION_FIGURES,
    TaskKind.MULTI_LABEL: MULTI_LABEL_FIGURES,
}
HEADLINE: dict[TaskKind, str] = {
    TaskKind.SEQUENCE_CLASSIFICATION: "accuracy",
    TaskKind.TOKEN_CLASSIFICATION: "entity_f1",
    TaskKind.QUESTION_ANSWERING: "answer_f1",
    TaskKind.REGRESSION: "pearson",
    TaskKind.MULTI_LABEL: "micro_f1",
}
LOWER_IS_BETTER = frozenset({"mse"})


def figures_for(task: TaskKind | str) -> tuple[Figure, ...]:
    return TASK_FIGURES[TaskKind.parse(task)]


def headline(task: TaskKind | str) -> Figure:
    kind = TaskKind.parse(task)
    return next(f for f in TASK_FIGURES[kind] if f.key == HEADLINE[kind])
