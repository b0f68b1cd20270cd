"""Bootstrap intervals for figures that are not a mean of per-example correctness.

The procedure is the project's (:func:`core.metrics.intervals.paired_retained`): ``BOOTSTRAP_RESAMPLES``
resamples of the examples drawn with ``numpy.random.default_rng(seed).integers``, the 2.5th and 97.5th
percentiles as the interval; a paired figure resamples the same examples for both models. Here a figure is any
function of the resampled per-example rows (entity counts of sentences, a prediction and its target, ...), so
an F1 over entities or a correlation gets an interval the same way an accuracy does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from core.metrics.intervals import BOOTSTRAP_RESAMPLES, Spread

FigureFn = Callable[[Any], Mapping[str, float]]  # rows, a numpy array (n, k) -> {figure: value}


def _indices(n: int, resamples: int, seed: int):
    import numpy as np

    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _interval(point: float, values) -> Spread:
    import numpy as np

    values = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if values.size == 0:
        return Spread(float(point), math.nan, math.nan)
    low, high = np.percentile(values, [2.5, 97.5])
    return Spread(float(point), float(low), float(high))


def bootstrap(rows, figures: FigureFn, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> dict[str, Spread]:
    """Every figure of ``figures(rows)`` with its 95 % interval over resamples of the rows (examples)."""
    import numpy as np

    rows = np.asarray(rows, dtype=np.float64)
    if rows.shape[0] == 0:
        raise ValueError("no examples to measure")
    point = dict(figures(rows))
    draws: dict[str, list[float]] = {k: [] for k in point}
    for idx in _indices(rows.shape[0], resamples, seed):
        for key, value in figures(rows[idx]).items():
            draws[key].append(float(value))
    return {key: _interval(value, draws[key]) for key, value in point.items()}


def paired_ratio(candidate, baseline, figure: Callable[[Any], float],
                 resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Spread:
    """``figure(candidate) / figure(baseline)`` with a paired 95 % interval: both models' rows of the same
    examples are resampled together (row ``i`` of each is example ``i``)."""
    import numpy as np

    c, b = np.asarray(candidate, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if c.shape[0] != b.shape[0] or c.shape[0] == 0:
        raise ValueError(f"paired rows must have the same, non-zero length: {c.shape[0]} and {b.shape[0]}")
    den = figure(b)
    point = figure(c) / den if den else math.nan
    ratios = []
    for idx in _indices(c.shape[0], resamples, seed):
        d = figure(b[idx])
        if d > 0:
            ratios.append(figure(c[idx]) / d)
    return _interval(point, ratios)


@dataclass(frozen=True)
class Scored:
    """A task's figures on one model's predictions, their intervals, and the per-example rows they came from
    (kept so a paired "retained" can be computed against another model's rows)."""

    intervals: dict[str, Spread]
    rows: Any = field(repr=False)  # numpy array (examples, k)
    figure_fn: FigureFn = field(repr=False)
    extra: dict[str, float] = field(default_factory=dict)  # counts without an interval (examples, entities)

    @property
    def figures(self) -> dict[str, float]:
        return {k: s.value for k, s in self.intervals.items()}

    def results(self) -> dict[str, float]:
        """``{key, key_low, key_high}`` for every figure, the layout :mod:`core.metrics.figures` reads."""
        out: dict[str, float] = {}
        for key, s in self.intervals.items():
            out[key], out[f"{key}_low"], out[f"{key}_high"] = s.value, s.low, s.high
        out.update(self.extra)
        return out

    def retained(self, baseline: "Scored", key: str, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Spread:
        """This model's ``key`` / the baseline's, on the same examples, with a paired bootstrap interval."""
        return paired_ratio(self.rows, baseline.rows, lambda r: float(self.figure_fn(r)[key]), resamples, seed)


def score(rows, figure_fn: FigureFn, extra: Mapping[str, float] | None = None,
          resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Scored:
    import numpy as np

    rows = np.asarray(rows, dtype=np.float64)
    return Scored(bootstrap(rows, figure_fn, resamples, seed), rows, figure_fn, dict(extra or {}))
