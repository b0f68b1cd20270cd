"""Interaction and order effects of compression methods, against a null model of independence.

For a method A applied after the common teacher, each run measures against that teacher
in one sitting: speedup ``s_A``, size ratio ``z_A`` and the drop of the task's headline figure
``d_A = h(T) - h(A)`` (accuracy for sentence classification, entity F1 for token classification, SQuAD F1 for
question answering, Pearson r for regression, micro F1 for multi-label: :data:`core.metrics.task_figures.HEADLINES`).
If A and B did not interact, stacking them would give ``s_AB = s_A * s_B``,
``z_AB = z_A * z_B`` (gains multiply) and ``d_AB = d_A + d_B`` (losses add). The interaction
is the distance from that null: ``s_AB / (s_A * s_B)`` (above 1: the gains compound better than
independent; below 1: they overlap) and ``d_AB - (d_A + d_B)`` (positive: the losses compound;
negative: the second method recovers some of the first's loss). The order effect compares
A -> B with B -> A: ``s_AB / s_BA`` and ``d_AB - d_BA``.

Each figure carries a spread: half its 95 % confidence interval. For the headline that is the run's own
(its retained figure's paired bootstrap, e.g. ``accuracy_retained``, else the figure's own interval: Wilson for
accuracy, a bootstrap for a task's figure; else, for accuracy only, a Wilson interval on the ``evaluated`` examples). For a speedup it is the confidence interval of the median over the run's rounds
(:func:`core.metrics.intervals.median_interval`) combined in quadrature with ``sitting_noise``: the rounds of
one run share one sitting, and the same run measured in another sitting of the same afternoon moved more than
its rounds did (issue 27: head pruning alone gave 1.23x, 1.26x and 1.13x; heads -> FFN 1.95x, 1.74x, 1.99x),
so a within-sitting interval alone would call sitting-to-sitting drift an interaction. Without any interval
the speedup's spread is ``sitting_noise`` alone. The size ratio is exact (a tolerance only). Spreads of
independent runs combine in quadrature, relative for ratios and absolute for drops, into the effect's 95 %
confidence interval; an effect whose interval holds the null (1 for ratios, 0 for differences) is "inside the
noise", and the table says so instead of ranking it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from core.metrics.intervals import MIN_LEVEL
from core.metrics.task_figures import headline_key

# Half the 95 % interval of one run's speedup between sittings, relative: repeated measurements of one run on
# this kind of machine agree to about +-10 % (shared/ENV.md; issue 27's three sittings moved by 5-7 % of the median).
SITTING_NOISE = 0.10
SPEEDUP_NOISE = SITTING_NOISE  # the older name
# Serialized sizes are exact; below this relative difference two sizes are the same size.
SIZE_TOLERANCE = 1e-3
Z95 = 1.959963984540054

INSIDE = "inside the noise"
MEASURABLE = "measurable"
UNKNOWN = "spread unknown"


@dataclass(frozen=True)
class Measured:
    """One figure of one run with its spread (half the interval; NaN: unknown)."""

    value: float
    spread: float

    @property
    def relative(self) -> float:
        return self.spread / abs(self.value) if self.value else math.nan


@dataclass(frozen=True)
class Effect:
    """An interaction or order effect: ``value`` against ``null`` (1 for ratios, 0 for differences), with
    ``spread`` half its 95 % confidence interval."""

    value: float
    spread: float
    null: float

    @property
    def low(self) -> float:
        return self.value - self.spread

    @property
    def high(self) -> float:
        return self.value + self.spread

    @property
    def verdict(self) -> str:
        """:data:`INSIDE` when the confidence interval holds the null, :data:`MEASURABLE` when it does not."""
        if math.isnan(self.value):
            return UNKNOWN
        if math.isnan(self.spread):
            return UNKNOWN
        return INSIDE if self.low <= self.null <= self.high else MEASURABLE

    @property
    def inside_noise(self) -> bool:
        return self.verdict == INSIDE


@dataclass(frozen=True)
class RunFigures:
    """What the null model needs from one run: speedup, size ratio and headline drop, each with its spread."""

    speedup: Measured
    size_ratio: Measured
    drop: Measured

    @classmethod
    def from_figures(cls, figures: Mapping[str, float], sitting_noise: float = SITTING_NOISE,
                     headline: str = "accuracy") -> "RunFigures":
        return cls(speedup_of(figures, sitting_noise), size_ratio_of(figures), drop_of(figures, headline))


def _get(figures: Mapping[str, float], key: str) -> float:
    value = figures.get(key)
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _half_interval(figures: Mapping[str, float], key: str) -> float:
    low, high = _get(figures, f"{key}_low"), _get(figures, f"{key}_high")
    return (high - low) / 2 if not (math.isnan(low) or math.isnan(high)) else math.nan


def speedup_of(figures: Mapping[str, float], sitting_noise: float = SITTING_NOISE) -> Measured:
    """The speedup; spread: half its confidence interval over the rounds and the sitting's noise, in quadrature.

    Rounds too few for an interval at :data:`~core.metrics.intervals.MIN_LEVEL` give no spread (NaN): the
    effects they enter are "spread unknown", not a claim.
    """
    value = _get(figures, "speedup")
    if _get(figures, "speedup_level") < MIN_LEVEL:  # NaN (no level stored) compares False: a 95 % interval
        return Measured(value, math.nan)
    rounds = _half_interval(figures, "speedup")
    sitting = sitting_noise * abs(value)
    return Measured(value, sitting if math.isnan(rounds) else math.hypot(rounds, sitting))


def size_ratio_of(figures: Mapping[str, float]) -> Measured:
    value = _get(figures, "size_ratio")
    spread = _half_interval(figures, "size_ratio")
    return Measured(value, SIZE_TOLERANCE * value if math.isnan(spread) else spread)


def drop_of(figures: Mapping[str, float], headline: str = "accuracy") -> Measured:
    """``baseline_H - H`` for the headline figure ``H`` (``accuracy``, ``entity_f1``...); spread from the paired
    retained interval, else the figure's own."""
    base, acc = _get(figures, f"baseline_{headline}"), _get(figures, headline)
    spread = _half_interval(figures, f"{headline}_retained") * base  # paired: the honest one
    if math.isnan(spread):
        spread = _half_interval(figures, headline)
    if math.isnan(spread) and headline == "accuracy":  # Wilson: a share of examples classified right
        n = _get(figures, "evaluated")
        if n > 0 and not math.isnan(acc):
            spread = Z95 * math.sqrt(max(acc * (1 - acc), 0.25 / n) / n)
    return Measured(base - acc, spread)


def _ratio_effect(top: Measured, *bottom: Measured) -> Effect:
    denominator = math.prod(b.value for b in bottom)
    value = top.value / denominator if denominator else math.nan
    relative = math.sqrt(sum(m.relative ** 2 for m in (top, *bottom)))
    return Effect(value, abs(value) * relative, 1.0)


def _difference_effect(plus: Measured, *minus: Measured) -> Effect:
    value = plus.value - sum(m.value for m in minus)
    return Effect(value, math.sqrt(sum(m.spread ** 2 for m in (plus, *minus))), 0.0)


@dataclass(frozen=True)
class PairTable:
    """One pair's row group: A alone, B alone, A -> B, B -> A, the null prediction, the effects.

    ``ab`` / ``ba`` are None where that order did not run (refused by the stack validator,
    failed, or not asked for). ``headline``: the figure whose drop the table reads (``accuracy``, ``entity_f1``...).
    """

    a: str
    b: str
    alone_a: RunFigures
    alone_b: RunFigures
    ab: RunFigures | None
    ba: RunFigures | None
    headline: str = "accuracy"

    @property
    def null_speedup(self) -> float:
        return self.alone_a.speedup.value * self.alone_b.speedup.value

    @property
    def null_size_ratio(self) -> float:
        return self.alone_a.size_ratio.value * self.alone_b.size_ratio.value

    @property
    def null_drop(self) -> float:
        return self.alone_a.drop.value + self.alone_b.drop.value

    def speed_interaction(self, stacked: RunFigures) -> Effect:
        return _ratio_effect(stacked.speedup, self.alone_a.speedup, self.alone_b.speedup)

    def size_interaction(self, stacked: RunFigures) -> Effect:
        return _ratio_effect(stacked.size_ratio, self.alone_a.size_ratio, self.alone_b.size_ratio)

    def drop_interaction(self, stacked: RunFigures) -> Effect:
        return _difference_effect(stacked.drop, self.alone_a.drop, self.alone_b.drop)

    def order_speed(self) -> Effect | None:
        return _ratio_effect(self.ab.speedup, self.ba.speedup) if self.ab and self.ba else None

    def order_size(self) -> Effect | None:
        return _ratio_effect(self.ab.size_ratio, self.ba.size_ratio) if self.ab and self.ba else None

    def order_drop(self) -> Effect | None:
        return _difference_effect(self.ab.drop, self.ba.drop) if self.ab and self.ba else None


def pair_tables(labels: Mapping[int, str], runs: Mapping[tuple[int, ...], Mapping[str, float]],
                chosen: Sequence[int], sitting_noise: float = SITTING_NOISE,
                headline: str | None = None) -> list[PairTable]:
    """Every pair of ``chosen`` steps whose two single runs finished.

    ``runs`` maps an arrangement (step numbers in order, e.g. ``(2, 3)`` for step 2 then step 3)
    to that run's final figures; ``labels`` names each step; ``sitting_noise`` 0 trusts each run's rounds alone.
    ``headline``: the study task's headline figure (by default the one the runs' figures hold).
    """
    if headline is None:
        headline = headline_key(next(iter(runs.values()), {}))
    tables = []
    for a, b in itertools.combinations(chosen, 2):
        if (a,) not in runs or (b,) not in runs:
            continue
        get = lambda key: (RunFigures.from_figures(runs[key], sitting_noise, headline)  # noqa: E731
                           if key in runs else None)
        tables.append(PairTable(labels[a], labels[b], get((a,)), get((b,)), get((a, b)), get((b, a)), headline))
    return tables
