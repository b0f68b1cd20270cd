"""What every score is: the figures it may read, the :class:`Score` interface, and the two built-in kinds."""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from typing import Any, Mapping

from core.errors import StudioError
from core.metrics.figures import ORDER
from core.metrics.task_figures import BY_TASK, HEADLINES

# The final figures a run ends with: the keys of the one figure table, so a new figure is scorable at once.
FIGURES: tuple[str, ...] = ORDER
CONSTANTS = {"inf": math.inf, "pi": math.pi, "e": math.e}
MAX_LENGTH = 500  # characters of a formula
MAX_NODES = 200  # syntax-tree nodes of a formula
MAX_DEPTH = 40  # nesting of a formula's syntax tree
RETAINED = "accuracy_retained"  # sequence classification's; other tasks: retained_figure(task)
MAX_WEIGHT = 1000.0  # a geomean weight; larger ones (1e308) overflow the total and score every run the same
MIN_WEIGHT = 0.001  # the smallest weight above 0 (smaller ones leave their figure out, like 0)


class ScoreError(StudioError):
    """A score specification or formula that cannot be used; the message says why and where."""


class Score(ABC):
    """A single number from a run's final figures; higher is better."""

    names: frozenset[str]

    @abstractmethod
    def value(self, figures: dict[str, float]) -> float:
        """The score from ``figures``, which holds every name in :attr:`names` as a finite float."""

    @abstractmethod
    def describe(self) -> str:
        """One line a person reads next to the score."""

    @abstractmethod
    def spec(self) -> str | dict:
        """What :func:`parse_score` turns back into this score (to store a study's objective)."""

    def __call__(self, figures: Mapping[str, Any]) -> float:
        values = {}
        for name in self.names:
            v = _number(figures.get(name))
            if v is None:
                return math.nan
            values[name] = v
        try:
            return float(self.value(values))
        except (ArithmeticError, ValueError):  # division by zero, overflow, log of a negative: no score
            return math.nan

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def figure_problem(name: Any, known: Any = FIGURES, also: Any = ()) -> str | None:
    """None when ``name`` is one of the ``known`` figures, otherwise why not, with the closest name.

    The one check of a figure's name: score formulas and weights, a study's constraints and objectives and
    ``bert-studio runs --sort`` all use it, so a typo gets the same "did you mean" everywhere. ``also``: other
    names the caller accepts (a formula's constants), offered as suggestions too.
    """
    known = sorted(known)
    if isinstance(name, str) and name in known:
        return None
    if not isinstance(name, str):
        return f"a figure's name must be text; got {type(name).__name__} (figures: {', '.join(known)})"
    close = difflib.get_close_matches(name[:100], known + sorted(also), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = name if len(name) <= 60 else name[:57] + "..."
    return f"unknown figure {shown!r}{hint} (figures: {', '.join(known)})"


def check_figure(name: Any, known: Any = FIGURES) -> str:
    """``name`` if it is a figure; raises :class:`ScoreError` with :func:`figure_problem`'s reason otherwise."""
    problem = figure_problem(name, known)
    if problem:
        raise ScoreError(problem)
    return name


def retained_figure(task: Any = None) -> str:
    """The run figure that says how much of the baseline a task's model kept: ``<headline>_retained``
    (``accuracy_retained``, ``entity_f1_retained``, ``answer_f1_retained``, ``pearson_retained``,
    ``micro_f1_retained``). ``task``: a recipe's spelling or a ``TaskKind``; None is sequence classification."""
    key = getattr(task, "value", task) or "sequence-classification"
    spelled = str(key).strip().lower().replace("_", "-")
    if spelled not in HEADLINES:
        raise ScoreError(f"unknown task {key!r}; the studio knows {', '.join(HEADLINES)}")
    return f"{HEADLINES[spelled]}_retained"


def task_figure_problem(name: Any, task: Any = None) -> str | None:
    """None unless ``name`` is a figure only runs of another task record (``accuracy_retained`` in an NER
    study, say: every trial would be infeasible or score nothing); then why, with the task's own figure."""
    if not isinstance(name, str):
        return None
    key = str(getattr(task, "value", task) or "sequence-classification").strip().lower().replace("_", "-")
    if key not in BY_TASK:
        return None
    base = name.removesuffix("_retained")
    own = {f.key for f in BY_TASK[key]}
    others = sorted(t for t, figures in BY_TASK.items() if t != key and base in {f.key for f in figures})
    if base in own or not others:
        return None
    return (f"{name!r} is a figure of {' and '.join(others)} runs; a {key} run does not record it "
            f"(its figures: {', '.join(sorted(own))}; retained: {retained_figure(key)!r})")


def _headline_words(retained: str) -> str:
    return "accuracy" if retained == RETAINED else retained.removesuffix("_retained").replace("_", " ")


def as_number(value: Any, *, finite: bool = False) -> float | None:
    """``value`` as a float, or None for a missing, boolean, non-numeric or NaN one (and an infinite one if ``finite``)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(v) or (finite and math.isinf(v)):
        return None
    return v


_number = as_number


# -- built-ins --------------------------------------------------------------------------------
class GeometricMean(Score):
    """Weighted geometric mean of figures (each higher-is-better), with an optional floor on the task's retained
    figure (:func:`retained_figure`); without weights: retained, speedup and size ratio, equally."""

    DEFAULT_WEIGHTS = {RETAINED: 1.0, "speedup": 1.0, "size_ratio": 1.0}

    def __init__(self, weights: Mapping[str, float] | None = None, min_accuracy_retained: float | None = None,
                 task: Any = None):
        self.retained = retained_figure(task)
        default = {self.retained: 1.0, "speedup": 1.0, "size_ratio": 1.0}
        self.weights = {k: float(v) for k, v in (weights or default).items() if float(v) != 0}
        self.min_retained = min_accuracy_retained
        floor = frozenset({self.retained}) if min_accuracy_retained is not None else frozenset()
        self.names = frozenset(self.weights) | floor

    def value(self, figures: dict[str, float]) -> float:
        if self.min_retained is not None and figures[self.retained] < self.min_retained:
            return -math.inf
        total = sum(self.weights.values())
        if any(figures[k] < 0 for k in self.weights):
            return math.nan
        if any(figures[k] == 0 for k in self.weights):
            return 0.0
        return math.exp(sum(w * math.log(figures[k]) for k, w in self.weights.items()) / total)

    def describe(self) -> str:
        parts = ", ".join(f"{k.replace('_', ' ')} x{w:g}" for k, w in self.weights.items())
        return f"weighted geometric mean of {parts}" + _floor_text(self.min_retained, self.retained)

    def spec(self) -> dict:
        out: dict[str, Any] = {"kind": "geomean", "weights": dict(self.weights)}
        if self.min_retained is not None:
            out["min_accuracy_retained"] = self.min_retained
        return out


class BestWithFloor(Score):
    """One figure (speedup: ``fastest``, size ratio: ``smallest``) among runs keeping enough of the task's headline
    figure (:func:`retained_figure`)."""

    FIGURE = {"fastest": "speedup", "smallest": "size_ratio"}
    DEFAULT_FLOOR = 0.98

    def __init__(self, kind: str, min_accuracy_retained: float | None = None, task: Any = None):
        self.kind = kind
        self.figure = self.FIGURE[kind]
        self.retained = retained_figure(task)
        self.min_retained = self.DEFAULT_FLOOR if min_accuracy_retained is None else min_accuracy_retained
        self.names = frozenset({self.figure, self.retained})

    def value(self, figures: dict[str, float]) -> float:
        return figures[self.figure] if figures[self.retained] >= self.min_retained else -math.inf

    def describe(self) -> str:
        what = "fastest run (speedup)" if self.kind == "fastest" else "smallest run (size ratio)"
        return f"{what} with at least {100 * self.min_retained:g} % of the baseline's {_headline_words(self.retained)}"

    def spec(self) -> dict:
        return {"kind": self.kind, "min_accuracy_retained": self.min_retained}


def _floor_text(floor: float | None, retained: str = RETAINED) -> str:
    return "" if floor is None else f"; runs under {100 * floor:g} % {retained.replace('_', ' ')} score -inf"
