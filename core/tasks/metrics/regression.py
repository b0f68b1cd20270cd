"""Regression: Pearson and Spearman correlation and mean squared error, with intervals.

Spearman is Pearson on ranks (ties take their average rank), as ``scipy.stats.spearmanr`` defines it; both are
computed with numpy here so that 2,000 resamples stay fast, and a constant input gives NaN rather than a
warning. MSE is in the units the targets are given in (invert any scaling first).
"""

from __future__ import annotations

import math
from typing import Sequence

from core.tasks.metrics.bootstrap import Scored, score

PREDICTION, TARGET = range(2)


def pearson(x, y) -> float:
    import numpy as np

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    den = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    return float((dx * dy).sum() / den) if den > 0 else math.nan


def spearman(x, y) -> float:
    from scipy.stats import rankdata

    return pearson(rankdata(x), rankdata(y))


def figures_of(rows) -> dict[str, float]:
    p, t = rows[:, PREDICTION], rows[:, TARGET]
    return {"pearson": pearson(p, t), "spearman": spearman(p, t), "mse": float(((p - t) ** 2).mean())}


def score_regression(predictions: Sequence[float], targets: Sequence[float], seed: int = 0,
                     resamples: int | None = None) -> Scored:
    import numpy as np

    rows = np.column_stack([np.asarray(predictions, dtype=np.float64), np.asarray(targets, dtype=np.float64)])
    if rows.shape[0] != len(targets) or len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
    kwargs = {"resamples": resamples} if resamples else {}
    return score(rows, figures_of, {"evaluated": float(len(rows))}, seed=seed, **kwargs)
