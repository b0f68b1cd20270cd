"""One number per run: a user's score over the run's final figures (higher is better).

A score is a built-in (a weighted geometric mean of the task's retained figure,
speedup and size ratio; the fastest or the smallest run that keeps enough of the
task's headline figure; ``task`` says which: ``accuracy_retained`` for sentence
classification, ``entity_f1_retained`` for token classification, see
:func:`retained_figure`) or a formula over the figures' names, such as
``speedup * accuracy_retained ** 4 if accuracy_retained >= 0.98 else -inf``.

A formula is never evaluated by Python: :mod:`ast` parses it and only an
allow-listed tree is rebuilt (numbers, figure names, ``+ - * / **``, unary
minus, comparisons, ``and or not``, ``a if cond else b``, and the functions in
:data:`FUNCTIONS`), computed in floating point, so ``9**9**9`` overflows to
"no score" at once instead of building a huge integer; length and size are
bounded. A bad formula raises :class:`~core.errors.StudioError` naming the
unknown name or the syntax error, with its column.

Every score reads ``Score.names``; when one of them is missing from a run's
figures (or is not a number) the score is NaN; a run that violates a
constraint scores ``-inf``.

    score = parse_score({"kind": "geomean", "weights": {"accuracy_retained": 2, "speedup": 1, "size_ratio": 1}})
    score(run.figures)       # -> float
    ranked = rank(runs, score, lambda r: r.figures)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from core.metrics.task_figures import task_of_figures
from core.scoring.base import (CONSTANTS, FIGURES, MAX_DEPTH, MAX_LENGTH, MAX_NODES, MAX_WEIGHT,  # noqa: F401 (API)
                               MIN_WEIGHT, RETAINED, BestWithFloor, GeometricMean, Score, ScoreError, _number,
                               as_number, check_figure, figure_problem, retained_figure,
                               task_figure_problem)
from core.scoring.formula import FUNCTIONS, Formula  # noqa: F401 (API)


# -- reading a specification ------------------------------------------------------------------
BUILTINS = ("geomean", "fastest", "smallest")
_KEYS = {"geomean": {"weights", "min_accuracy_retained"}, "fastest": {"min_accuracy_retained"},
         "smallest": {"min_accuracy_retained"}, "formula": {"formula"}}


def parse_score(spec: Any, known: Iterable[str] = FIGURES, task: Any = None) -> Score:
    """A :class:`Score` from a built-in name, a formula, or a mapping with ``kind`` (see the module's docstring).

    ``known``: the figure names a formula or weights may use (the final figures by default). ``task``: the runs'
    task kind (recipe spelling; None is sequence classification), whose retained figure the built-ins read.
    Raises :class:`ScoreError` (a ``StudioError``) naming what is wrong.
    """
    if isinstance(spec, Score):
        return spec
    known = frozenset(known)
    if isinstance(spec, str):
        text = spec.strip()
        if text in ("geomean", "fastest", "smallest"):
            return parse_score({"kind": text}, known, task)
        return Formula(text, known)
    if not isinstance(spec, Mapping):
        raise ScoreError(f"a score is a built-in name ({', '.join(BUILTINS)}), a formula or a mapping with 'kind'; "
                         f"got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in _KEYS:
        raise ScoreError(f"unknown score kind {kind!r} (known: {', '.join(_KEYS)})")
    extra = set(spec) - _KEYS[kind] - {"kind"}
    if extra:
        raise ScoreError(f"score kind {kind!r}: unknown keys {sorted(map(str, extra))} (known: {', '.join(sorted(_KEYS[kind]))})")
    if kind == "formula":
        if "formula" not in spec:
            raise ScoreError("score kind 'formula' needs a 'formula'")
        return Formula(spec["formula"], known)
    floor = _floor(spec.get("min_accuracy_retained"))
    if kind == "geomean":
        return GeometricMean(_weights(spec.get("weights"), known), floor, task)
    return BestWithFloor(kind, floor, task)


def _floor(value: Any) -> float | None:
    if value is None:
        return None
    v = _number(value)
    if v is None or not 0 < v <= 1.5:
        hint = " (a share: 0.98 for 98 %)" if v is not None and v > 1.5 else ""
        raise ScoreError(f"min_accuracy_retained must be a number above 0 and at most 1.5{hint}; got {value!r}")
    return v


def _weights(raw: Any, known: frozenset[str]) -> dict[str, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw:
        raise ScoreError("weights must be a mapping of figure names to numbers, e.g. {accuracy_retained: 2, speedup: 1}")
    out = {}
    for name, weight in raw.items():
        problem = figure_problem(name, known)
        if problem:
            raise ScoreError(f"weights: {problem}")
        w = _number(weight, finite=True)
        if w is None or not (w == 0 or MIN_WEIGHT <= w <= MAX_WEIGHT):
            raise ScoreError(f"weights: the weight of {name!r} must be 0 or a number from {MIN_WEIGHT:g} to "
                             f"{MAX_WEIGHT:g} (only the weights' ratios matter); got {brief_value(weight)}")
        out[str(name)] = w
    if not any(out.values()):
        raise ScoreError("weights: at least one weight must be above 0")
    return out


def brief_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- ranking ---------------------------------------------------------------------------------------
T = TypeVar("T")


def sort_key(value: float) -> tuple[int, float]:
    """Best first: finite and +inf scores by value, then -inf (a constraint violated), then NaN (no score)."""
    if math.isnan(value):
        return (2, 0.0)
    if value == -math.inf:
        return (1, 0.0)
    return (0, -value)


def rank(items: Sequence[T], score: Score, figures_of: Callable[[T], Mapping[str, Any]]) -> list[tuple[T, float]]:
    """``items`` with their scores, best first (ties keep the given order)."""
    scored = [(item, score(figures_of(item) or {})) for item in items]
    return sorted(scored, key=lambda pair: sort_key(pair[1]))


class RunScore:
    """A score for runs of any task (:func:`run_scorer`); reads like the :class:`Score` it wraps."""

    def __init__(self, spec: str):
        self.base = parse_score(spec)
        self._spec = spec
        self._per_task: dict[str, Score] = {}

    def __call__(self, figures: Mapping[str, Any]) -> float:
        task = task_of_figures(figures)
        return self._per_task.setdefault(task, parse_score(self._spec, task=task))(figures)

    def __getattr__(self, name: str) -> Any:  # describe, spec, names: the sentence-classification score's
        return getattr(self.base, name)


def run_scorer(spec: Any) -> Score | RunScore:
    """A score for runs of any task: a built-in (``geomean``, ``fastest``, ``smallest``) reads each run's own
    task's retained figure (read off its figures: ``entity_f1_retained`` for a token run), a formula is taken as
    written. Raises :class:`ScoreError` like :func:`parse_score`."""
    if isinstance(spec, str) and spec.strip() in BUILTINS:
        return RunScore(spec.strip())
    return parse_score(spec)
