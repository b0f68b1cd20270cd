"""Spreads and confidence intervals for the figures a run reports.

- :func:`wilson`: the Wilson score interval of a proportion (test accuracy on
  ``n`` evaluated examples), which behaves near 0 and 1 where the normal
  approximation does not.
- :func:`ratio_spread`: a speedup from per-round timings where each round
  timed the candidate and the baseline back to back: the median of the
  per-round ratios, with their interquartile range as the interval. A busy
  machine slows some rounds and not others, which widens the range; that is
  what makes a figure unreliable (:data:`UNRELIABLE_WIDTH`).
- :func:`paired_retained`: accuracy retained (candidate / baseline) with a
  paired bootstrap interval on per-example correctness: both models see the
  same examples, so resampling examples keeps their shared difficulty and the
  interval is narrower (and honest) compared with dividing two independent
  intervals.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

Z95 = 1.959963984540054  # two-sided 95 %
# A ratio whose interquartile range is wider than this fraction of its median is shown as unreliable.
UNRELIABLE_WIDTH = 0.25
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Spread:
    """A figure with its interval: ``value`` (median or point estimate), ``low`` and ``high``."""

    value: float
    low: float
    high: float

    @property
    def relative_width(self) -> float:
        """(high - low) / value; infinite when the value is zero or missing."""
        if not self.value or math.isnan(self.value):
            return math.inf
        return (self.high - self.low) / abs(self.value)

    @property
    def reliable(self) -> bool:
        return self.relative_width <= UNRELIABLE_WIDTH


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile), linearly interpolated; one value gives three equal numbers."""
    xs = sorted(float(v) for v in values)
    if not xs:
        return (math.nan, math.nan, math.nan)
    if len(xs) == 1:
        return (xs[0], xs[0], xs[0])
    q1, q2, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return (q1, q2, q3)


def spread(values: Sequence[float]) -> Spread:
    """Median and interquartile range of ``values``."""
    q1, q2, q3 = quartiles(values)
    return Spread(q2, q1, q3)


def ratio_spread(baseline: Sequence[float], candidate: Sequence[float]) -> Spread:
    """Speedup baseline / candidate: median and interquartile range of the per-round ratios."""
    if len(baseline) != len(candidate):
        raise ValueError(f"per-round timings must pair up: {len(baseline)} baseline rounds, {len(candidate)} candidate")
    return spread([b / c for b, c in zip(baseline, candidate) if c > 0])


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for ``correct`` successes out of ``n`` (95 % by default)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_retained(candidate: Sequence[bool], baseline: Sequence[bool], resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = 0) -> Spread:
    """Accuracy retained (candidate accuracy / baseline accuracy) with a 95 % paired bootstrap interval.

    ``candidate[i]`` and ``baseline[i]`` say whether each model got example ``i`` right; examples are
    resampled together, so both accuracies in a resample come from the same examples.
    """
    import numpy as np

    c = np.asarray(candidate, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if c.shape != b.shape or c.size == 0:
        raise ValueError(f"paired correctness must have the same, non-zero length: {c.size} and {b.size}")
    point = c.mean() / b.mean() if b.mean() else math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, c.size, size=(resamples, c.size))
    num, den = c[idx].mean(axis=1), b[idx].mean(axis=1)
    ratios = num[den > 0] / den[den > 0]
    if ratios.size == 0:
        return Spread(float(point), math.nan, math.nan)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return Spread(float(point), float(low), float(high))


def accuracy_differs(a: float, n_a: int, b: float, n_b: int, z: float = Z95) -> bool:
    """Whether two accuracies differ by more than the noise of their test sets.

    A two-proportion z test (unpaired, so conservative when both runs used the same examples): the gap must
    exceed ``z`` standard errors of the difference.
    """
    if not n_a or not n_b or any(math.isnan(x) for x in (a, b)):
        return False
    se = math.sqrt(a * (1 - a) / n_a + b * (1 - b) / n_b)
    if se == 0:
        return a != b
    return abs(a - b) > z * se


def overlaps(a: Spread, b: Spread) -> bool:
    """Whether two intervals share any point (two ratios that overlap are not told apart)."""
    return not (a.high < b.low or b.high < a.low)
