"""What a study maximises: one score (``core.scoring``) or several figures (a Pareto front).

A single objective is a score spec as :func:`core.scoring.parse_score` reads it
(a formula, a built-in name or a mapping); higher is better. A plain figure name
(``accuracy_retained``) is that figure, negated when smaller is better (``mse``, ``loss``:
:data:`core.metrics.figures.LOWER_IS_BETTER`), so that maximising it minimises the figure.
The built-ins read the task's retained figure (``entity_f1_retained`` for a token
classification study: :func:`core.scoring.retained_figure`). Several objectives are a
list of figures, each maximised or minimised (by default as :func:`default_direction`
says); the answer is then the Pareto front.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from core.metrics.figures import LOWER_IS_BETTER

_FIGURE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def default_direction(figure: str) -> str:
    """``minimize`` for a figure where smaller is better (``mse``, ``loss``), ``maximize`` otherwise."""
    return "minimize" if figure in LOWER_IS_BETTER else "maximize"


def _parse(spec: Any, task: Any = None) -> Callable[[Mapping[str, float]], float]:
    from core.scoring import parse_score

    if isinstance(spec, str) and spec.strip() in LOWER_IS_BETTER:  # maximising -mse minimises the error
        return parse_score(f"-{spec.strip()}", task=task)
    return parse_score(spec, task=task)


def score_problem(spec: Any, task: Any = None) -> str | None:
    """The reason ``spec`` is not a usable score, or None."""
    try:
        _parse(spec, task)
    except Exception as exc:  # the scoring module's errors name the unknown name or the syntax error
        return str(exc)
    return None


@dataclass(frozen=True)
class Objective:
    """``spec`` from the study file; :meth:`values` turns a run's figures into what Optuna is told. ``task``: the
    study recipe's task (its spelling), whose retained figure the built-in scores read."""

    spec: Any
    task: Any = None

    @classmethod
    def of(cls, spec) -> "Objective":
        """The objective of a :class:`~core.study.spec.StudySpec`, for its recipe's task."""
        return cls(spec.objective, getattr(getattr(spec, "recipe", None), "task", None))

    @property
    def multi(self) -> bool:
        return isinstance(self.spec, list)

    @property
    def names(self) -> list[str]:
        if self.multi:
            return [item["figure"] for item in self.spec]
        return ["score"]

    @property
    def directions(self) -> list[str]:
        if self.multi:
            return [item["direction"] for item in self.spec]
        return ["maximize"]

    def score(self, figures: Mapping[str, float]) -> float:
        """The single number that ranks runs (the first figure for several objectives)."""
        if self.multi:
            value = figures.get(self.spec[0]["figure"], math.nan)
            return float(value) if self.spec[0]["direction"] == "maximize" else -float(value)
        return float(_parse(self.spec, self.task)(figures))

    def values(self, figures: Mapping[str, float]) -> list[float]:
        if self.multi:
            return [float(figures.get(item["figure"], math.nan)) for item in self.spec]
        return [self.score(figures)]
