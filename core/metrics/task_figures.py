"""The figures of the task kinds beyond sentence classification, in the style of :mod:`core.metrics.figure_base`,
keyed by the task's recipe spelling; :mod:`core.tasks.figures` keys them by :class:`~core.tasks.kinds.TaskKind`
and says why each headline was chosen. They live in the metrics layer so that the one figure table
(:mod:`core.metrics.figures`) can list them without importing the task layer.
"""

from __future__ import annotations

from core.metrics.figure_base import FIGURES, Figure

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
SEQUENCE_FIGURES = tuple(f for f in FIGURES if f.key == "accuracy")

BY_TASK: dict[str, tuple[Figure, ...]] = {
    "sequence-classification": SEQUENCE_FIGURES,
    "token-classification": TOKEN_FIGURES,
    "question-answering": QA_FIGURES,
    "regression": REGRESSION_FIGURES,
    "multi-label": MULTI_LABEL_FIGURES,
}
HEADLINES: dict[str, str] = {
    "sequence-classification": "accuracy",
    "token-classification": "entity_f1",
    "question-answering": "answer_f1",
    "regression": "pearson",
    "multi-label": "micro_f1",
}
LOWER_IS_BETTER = frozenset({"mse"})


def headline_key(figures) -> str:
    """The headline figure a run's ``figures`` (a mapping) hold: ``entity_f1``, ``answer_f1``, ``pearson``,
    ``micro_f1`` or ``accuracy`` (also when none is there). The task headlines are looked for first, so a task
    whose figures include some accuracy is still named by its own."""
    for key in (*[k for k in HEADLINES.values() if k != "accuracy"], "accuracy"):
        if (figures or {}).get(key) is not None:
            return key
    return "accuracy"


# -- naming a run's headline figure (the studio's lists, plots and tables, the study report) -----------------------
SEQUENCE = "sequence-classification"
_BY_KEY = {f.key: f for figures in BY_TASK.values() for f in figures}


def task_of(recipe) -> str:
    """The task spelling of a recipe (a :class:`~core.recipe.Recipe`, its dict, or a run record holding one);
    ``sequence-classification`` for a recipe written before recipes named their task, or an unknown task."""
    if recipe is not None and not isinstance(recipe, dict) and not hasattr(recipe, "task"):
        recipe = getattr(recipe, "recipe", None)
    task = recipe.get("task") if isinstance(recipe, dict) else getattr(recipe, "task", None)
    task = getattr(task, "value", task)  # a TaskKind
    return task if task in HEADLINES else SEQUENCE


def headline_of(task) -> str:
    """The headline figure's key of ``task`` (a spelling, a recipe or a record): ``accuracy``, ``entity_f1``..."""
    return HEADLINES[task if isinstance(task, str) and task in HEADLINES else task_of(task)]


def headline_label(key: str) -> str:
    """``entity_f1`` -> ``Entity F1``; ``accuracy`` -> ``Accuracy``."""
    figure = _BY_KEY.get(key)
    return figure.label if figure is not None else key.replace("_", " ").capitalize()


def is_fraction(key: str) -> bool:
    """Whether ``key`` reads as a percentage (accuracy, F1s) rather than a plain number (correlations, MSE)."""
    figure = _BY_KEY.get(key)
    return figure is None or figure.kind == "fraction"


def headline_value_text(key: str, value) -> str:
    """``0.712`` as ``71.2 %`` for a fraction, ``0.812`` as ``0.812`` for a correlation; ``""`` when missing."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    if value != value:
        return ""
    return f"{100 * value:.1f} %" if is_fraction(key) else f"{value:.3f}"


def headline_text(figures) -> str:
    """A run's headline figure, named: ``Entity F1 71.2 %``, ``Pearson r 0.812``, ``Accuracy 85.0 %``."""
    key = headline_key(figures)
    value = headline_value_text(key, (figures or {}).get(key))
    return f"{headline_label(key)} {value}" if value else ""


def drop_label(key: str) -> str:
    """What a study's interaction table calls the baseline's ``key`` minus a run's: ``Entity F1 drop``."""
    return f"{headline_label(key)} drop"


def difference_text(value: float, spread: float, key: str) -> str:
    """A difference of figure ``key`` with its spread: ``+1.2 pts ± 0.4`` (percentage points) for a share,
    ``+0.012 ± 0.004`` for a correlation; ``-`` when unknown, no spread when it is unknown."""
    if value != value:
        return "-"
    known = spread == spread
    if is_fraction(key):
        return f"{100 * value:+.1f} pts" + (f" \u00b1 {100 * spread:.1f}" if known else "")
    return f"{value:+.3f}" + (f" \u00b1 {spread:.3f}" if known else "")


def headlines_help() -> str:
    """Which figure heads each task, in words: ``Accuracy (sequence classification), Entity F1 (token ...)``."""
    return ", ".join(f"{headline_label(key)} ({task.replace('-', ' ')})" for task, key in HEADLINES.items())


def task_of_figures(figures) -> str:
    """The task a run's figures come from, read off its headline figure (``entity_f1`` -> token classification);
    ``sequence-classification`` when they hold none of the other tasks' headlines."""
    key = headline_key(figures)
    return next(task for task, headline in HEADLINES.items() if headline == key)
