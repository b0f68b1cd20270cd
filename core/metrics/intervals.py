"""Spreads and confidence intervals for the figures a run reports.

- :func:`wilson`: the Wilson score interval of a proportion (test accuracy on
  ``n`` evaluated examples), which behaves near 0 and 1 where the normal
  approximation does not.
- :func:`median_interval`: a distribution-free confidence interval of a
  median from order statistics: the ``k``-th smallest and ``k``-th largest of
  ``n`` values cover the true median with probability
  ``P(k <= Binomial(n, 1/2) <= n - k)``, whatever the distribution (rounds
  need only be independent and continuous). The widest choice, the minimum
  and the maximum, covers it with ``1 - 2 / 2**n``: under 95 % for five values
  or fewer (93.75 % for five), so such an interval states its own, lower
  level (:attr:`Interval.level`).
- :func:`ratio_interval`: a speedup from per-round timings where each round
  timed the candidate and the baseline back to back: the median of the
  per-round ratios, its 95 % confidence interval (what every verdict uses:
  "unreliable" when wider than :data:`UNRELIABLE_WIDTH` of the median, "inside
  the noise", a study's constraints) and the interquartile range of the
  ratios beside it (how much one round differs from the next; not a
  confidence interval). :func:`ratio_spread` keeps the older reading, median
  and interquartile range.
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
# A timed figure whose 95 % confidence interval is wider than this fraction of its median is shown as unreliable.
UNRELIABLE_WIDTH = 0.25
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95  # the level of every interval stored as KEY_low / KEY_high
# Below this level (four rounds or fewer) an order-statistic interval is no basis for a verdict: the figure is
# unreliable and its effects are "spread unknown". Five rounds (93.75 %, the recipes' default) still pass.
MIN_LEVEL = 0.90


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


def ratios(baseline: Sequence[float], candidate: Sequence[float]) -> list[float]:
    """Per-round ratios baseline / candidate (rounds where the candidate took no time are left out)."""
    if len(baseline) != len(candidate):
        raise ValueError(f"per-round timings must pair up: {len(baseline)} baseline rounds, {len(candidate)} candidate")
    return [b / c for b, c in zip(baseline, candidate) if c > 0]


def ratio_spread(baseline: Sequence[float], candidate: Sequence[float]) -> Spread:
    """Speedup baseline / candidate: median and interquartile range of the per-round ratios."""
    return spread(ratios(baseline, candidate))


@dataclass(frozen=True)
class Interval:
    """A median with its confidence interval (``low``/``high``, at ``level``) and the interquartile range.

    ``level`` is the coverage the order statistics guarantee: at least :data:`CONFIDENCE` from six values on,
    less below (``0.9375`` for five values, ``0`` for one: no interval at all).
    """

    value: float
    low: float
    high: float
    level: float
    q1: float
    q3: float
    n: int

    @property
    def ci(self) -> Spread:
        return Spread(self.value, self.low, self.high)

    @property
    def iqr(self) -> Spread:
        return Spread(self.value, self.q1, self.q3)

    @property
    def reliable(self) -> bool:
        """The confidence interval pins the median within :data:`UNRELIABLE_WIDTH` of it (and exists at all)."""
        return self.level >= MIN_LEVEL and self.ci.reliable

    def scaled(self, factor: float) -> "Interval":
        """The same interval in other units (seconds -> milliseconds)."""
        return Interval(self.value * factor, self.low * factor, self.high * factor, self.level, self.q1 * factor,
                        self.q3 * factor, self.n)


def _binomial_half_cdf(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) <= k)."""
    return sum(math.comb(n, i) for i in range(0, k + 1)) / 2 ** n


def order_statistic_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, float]:
    """``(k, level)``: the interval from the ``k``-th smallest to the ``k``-th largest of ``n`` values covers the
    median with probability ``level``; ``k`` is the largest whose level reaches ``confidence``, else 1 (the
    minimum and the maximum, at their own, lower level)."""
    if n < 2:
        return 1, 0.0
    best = 1
    for k in range(1, n // 2 + 1):
        if 1 - 2 * _binomial_half_cdf(k - 1, n) >= confidence:
            best = k
        else:
            break
    return best, 1 - 2 * _binomial_half_cdf(best - 1, n)


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The median of ``values``, its distribution-free confidence interval and the interquartile range."""
    xs = sorted(float(v) for v in values)
    q1, median, q3 = quartiles(xs)
    if len(xs) < 2:
        return Interval(median, math.nan, math.nan, 0.0, q1, q3, len(xs))
    k, level = order_statistic_ranks(len(xs), confidence)
    return Interval(median, xs[k - 1], xs[len(xs) - k], level, q1, q3, len(xs))


def ratio_interval(baseline: Sequence[float], candidate: Sequence[float],
                   confidence: float = CONFIDENCE) -> Interval:
    """Speedup baseline / candidate: the median of the per-round ratios, its confidence interval and IQR."""
    return median_interval(ratios(baseline, candidate), confidence)


def rounds_for(confidence: float = CONFIDENCE) -> int:
    """The fewest rounds whose minimum and maximum cover the median at ``confidence`` (6 for 95 %)."""
    n = 2
    while order_statistic_ranks(n, confidence)[1] < confidence:
        n += 1
    return n


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
    """Whether two intervals share any point (two ratios whose confidence intervals overlap are not told apart)."""
    return not (a.high < b.low or b.high < a.low)
