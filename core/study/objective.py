"""What a study maximises: one score (``core.scoring``) or several figures (a Pareto front).

A single objective is a score spec as :func:`core.scoring.parse_score` reads it
(a formula, a built-in name or a mapping); higher is better. A plain figure name
(``accuracy_retained``) is that figure. Several objectives are a list of figures,
each maximised or minimised; the answer is then the Pareto front.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

_FIGURE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse(spec: Any) -> Callable[[Mapping[str, float]], float]:
    try:
        from core.scoring import parse_score
    except ModuleNotFoundError as exc:
        if exc.name != "core.scoring":
            raise
        # Before core.scoring exists, a plain figure name is the only score there is.
        if isinstance(spec, str) and _FIGURE_NAME.match(spec.strip()):
            name = spec.strip()
            return lambda figures: float(figures.get(name, math.nan))
        raise ValueError(f"{spec!r} needs core.scoring; give a figure name such as accuracy_retained") from None
    return parse_score(spec)


def score_problem(spec: Any) -> str | None:
    """The reason ``spec`` is not a usable score, or None."""
    try:
        _parse(spec)
    except Exception as exc:  # the scoring module's errors name the unknown name or the syntax error
        return str(exc)
    return None


@dataclass(frozen=True)
class Objective:
    """``spec`` from the study file; :meth:`values` turns a run's figures into what Optuna is told."""

    spec: Any

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
        return float(_parse(self.spec)(figures))

    def values(self, figures: Mapping[str, float]) -> list[float]:
        if self.multi:
            return [float(figures.get(item["figure"], math.nan)) for item in self.spec]
        return [self.score(figures)]
