"""Confidence intervals of medians over timed rounds, and the verdicts built on them, on synthetic rounds where
the truth is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.cli.format import results_text
from core.metrics import figures
from core.metrics.intervals import median_interval, order_statistic_ranks, quartiles, ratio_interval, rounds_for
from core.metrics.protocol import Protocol
from core.metrics.timing import Timing, speed_figures
from core.study.interaction import INSIDE, MEASURABLE, UNKNOWN, pair_tables


def test_order_statistic_ranks_match_the_binomial_by_hand():
    # minimum and maximum of n values miss the median only when all fall on one side: 2 / 2**n
    assert order_statistic_ranks(5) == (1, pytest.approx(1 - 2 / 32))  # 93.75 %: five rounds cannot give 95 %
    assert order_statistic_ranks(6) == (1, pytest.approx(1 - 2 / 64))
    # nine values: the 2nd smallest to the 2nd largest, 1 - 2 * (1 + 9) / 512
    assert order_statistic_ranks(9) == (2, pytest.approx(1 - 20 / 512))
    assert order_statistic_ranks(15)[0] == 4 and order_statistic_ranks(1) == (1, 0.0)
    assert rounds_for(0.95) == 6
    interval = median_interval([5, 1, 9, 3, 7, 2, 8, 4, 6])
    assert (interval.value, interval.low, interval.high, interval.n) == (5, 2, 8, 9)
    assert (interval.q1, interval.q3) == quartiles(range(1, 10))[::2]
    assert math.isnan(median_interval([3.0]).low) and not median_interval([3.0]).reliable


@pytest.mark.parametrize("rounds", [6, 9, 15])
def test_the_interval_covers_the_true_median_about_95_percent_of_the_time(rounds):
    """Skewed, heavy-tailed per-round ratios (a busy machine slows some rounds a lot): the order-statistic
    interval still holds the true median at least at its stated level, where the interquartile range does not."""
    rng = np.random.default_rng(rounds)
    true_median = 2.0
    trials = 4000
    hits = iqr_hits = 0
    for _ in range(trials):
        # log-normal around the truth, and a third of the rounds slowed by an exponential extra load
        ratios = true_median * np.exp(rng.normal(0, 0.1, rounds))
        slowed = rng.random(rounds) < 0.3
        ratios = np.where(slowed, ratios * (1 + rng.exponential(0.3, rounds)), ratios)
        # the truth is the median of that mixture: found once below by simulation, so shift the draws instead
        interval = median_interval(ratios)
        hits += interval.low <= MIXTURE_MEDIAN <= interval.high
        iqr_hits += interval.q1 <= MIXTURE_MEDIAN <= interval.q3
    level = order_statistic_ranks(rounds)[1]
    coverage = hits / trials
    assert level - 0.015 <= coverage <= 1.0, (coverage, level)
    assert 0.93 <= coverage  # close to (at least) 95 %
    if rounds < 15:
        assert iqr_hits / trials < 0.92  # the interquartile range is no 95 % interval


def _mixture_median() -> float:
    rng = np.random.default_rng(12345)
    n = 2_000_000
    ratios = 2.0 * np.exp(rng.normal(0, 0.1, n))
    slowed = rng.random(n) < 0.3
    return float(np.median(np.where(slowed, ratios * (1 + rng.exponential(0.3, n)), ratios)))


MIXTURE_MEDIAN = _mixture_median()


def fake_rounds(rng, seconds: float, rounds: int, noise: float = 0.08) -> list[float]:
    """Seconds per batch of one model over ``rounds`` rounds on a machine whose load varies by ``noise``."""
    return list(seconds * np.exp(rng.normal(0, noise, rounds)) * (1 + rng.exponential(noise, rounds)))


def run_figures(rng, cost: float, rounds: int) -> dict:
    """A run's figures as the engine derives them: the teacher (10 ms) and the candidate timed in alternation."""
    protocol = Protocol(profile="throughput-fixed", batch_size=8, lengths="fixed", max_length=32, threads=1,
                        rounds=rounds)
    timing = Timing(protocol, {"baseline": fake_rounds(rng, 0.010, rounds), "final": fake_rounds(rng, cost, rounds)})
    return {**speed_figures(timing), "size_ratio": 1.0, "accuracy": 0.8, "baseline_accuracy": 0.8,
            "accuracy_low": 0.79, "accuracy_high": 0.81}


def interaction_verdicts(seed: int, stacked_speedup: float, rounds: int, studies: int = 300) -> list[str]:
    """Speed-interaction verdicts of ``studies`` simulated order studies: A alone 1.5x, B alone 2x, A -> B at
    ``stacked_speedup`` (3x is no interaction), each run timed over ``rounds`` rounds."""
    rng = np.random.default_rng(seed)
    verdicts = []
    for _ in range(studies):
        runs = {(1,): run_figures(rng, 0.010 / 1.5, rounds), (2,): run_figures(rng, 0.010 / 2.0, rounds),
                (1, 2): run_figures(rng, 0.010 / stacked_speedup, rounds)}
        (table,) = pair_tables({1: "a", 2: "b"}, runs, [1, 2], sitting_noise=0)
        verdicts.append(table.speed_interaction(table.ab).verdict)
    return verdicts


def test_no_interaction_is_called_inside_the_noise():
    verdicts = interaction_verdicts(seed=1, stacked_speedup=3.0, rounds=9)
    assert verdicts.count(INSIDE) / len(verdicts) >= 0.93  # a 95 % interval: a false alarm about 1 in 20 at most


def test_a_known_interaction_is_measurable_with_enough_rounds_and_not_claimed_with_too_few():
    strong = interaction_verdicts(seed=2, stacked_speedup=3.0 * 1.5, rounds=21)
    assert strong.count(MEASURABLE) / len(strong) >= 0.95
    # Three rounds a run: the minimum and maximum hold the median only 75 % of the time; no verdict is made.
    few = interaction_verdicts(seed=3, stacked_speedup=3.0 * 1.5, rounds=3, studies=20)
    assert set(few) == {UNKNOWN}


def test_equal_orders_are_inside_the_noise_and_a_known_order_effect_is_measurable():
    rng = np.random.default_rng(4)
    same = differ = 0
    for _ in range(200):
        runs = {(1,): run_figures(rng, 0.010 / 1.5, 9), (2,): run_figures(rng, 0.010 / 2.0, 9),
                (1, 2): run_figures(rng, 0.010 / 3.0, 9), (2, 1): run_figures(rng, 0.010 / 3.0, 9)}
        (table,) = pair_tables({1: "a", 2: "b"}, runs, [1, 2], sitting_noise=0)
        same += table.order_speed().verdict == INSIDE
        runs[(2, 1)] = run_figures(rng, 0.010 / 4.5, 15)
        runs[(1, 2)] = run_figures(rng, 0.010 / 3.0, 15)
        (table,) = pair_tables({1: "a", 2: "b"}, runs, [1, 2], sitting_noise=0)
        differ += table.order_speed().verdict == MEASURABLE
    assert same / 200 >= 0.93 and differ / 200 >= 0.95


def test_the_sitting_noise_keeps_one_afternoons_drift_from_reading_as_an_interaction():
    # Issue 27: head pruning alone measured 1.23x in one sitting, with rounds that agreed to the second decimal.
    tight = lambda s: {"speedup": s, "speedup_low": s * 0.995, "speedup_high": s * 1.005, "size_ratio": 1.0}  # noqa: E731
    runs = {(1,): tight(1.23), (2,): tight(1.60), (1, 2): tight(1.13 * 1.60 * 1.07)}  # another sitting's 1.13x
    (alone,) = pair_tables({1: "heads", 2: "ffn"}, runs, [1, 2], sitting_noise=0)
    (honest,) = pair_tables({1: "heads", 2: "ffn"}, runs, [1, 2])
    assert alone.speed_interaction(alone.ab).verdict == MEASURABLE  # the rounds alone overclaim
    assert honest.speed_interaction(honest.ab).verdict == INSIDE


def test_unreliable_is_decided_by_the_confidence_interval_not_the_interquartile_range():
    # Nine rounds, seven agree and two are far off: a tight IQR, a wide confidence interval.
    base = [0.010] * 9
    cand = [0.005] * 7 + [0.0025, 0.010]
    interval = ratio_interval(base, cand)
    assert interval.value == 2.0 and (interval.q1, interval.q3) == (2.0, 2.0)
    protocol = Protocol(profile="custom", batch_size=1, lengths="fixed", max_length=8, threads=1, rounds=9)
    # the 2nd smallest and 2nd largest of the ratios {1, 2 x7, 4}: still 2.0 (the outliers are outside)
    assert (interval.low, interval.high) == (2.0, 2.0)
    cand = [0.005] * 5 + [0.0025, 0.0025, 0.010, 0.010]
    result = speed_figures(Timing(protocol, {"baseline": base, "final": cand}))
    assert (result["speedup_q1"], result["speedup_q3"]) == (2.0, 2.0)  # the IQR sees nothing wrong
    assert (result["speedup_low"], result["speedup_high"]) == (1.0, 4.0)
    assert figures.unreliable(result)
    assert figures.UNRELIABLE in figures.describe(result, "speedup")


def test_every_interval_is_labelled_in_the_cli():
    protocol = Protocol(profile="throughput-fixed", batch_size=8, lengths="fixed", max_length=32, threads=2,
                        rounds=9)
    rng = np.random.default_rng(0)
    timing = Timing(protocol, {"baseline": fake_rounds(rng, 0.010, 9), "final": fake_rounds(rng, 0.004, 9)})
    results = {"accuracy": 0.8, "accuracy_low": 0.75, "accuracy_high": 0.85, "accuracy_retained": 0.99,
               "accuracy_retained_low": 0.97, "accuracy_retained_high": 1.01, "size_ratio": 2.0,
               **speed_figures(timing), "timing": {"throughput-fixed": timing.to_dict()}}
    text = results_text(results)
    lines = {line.split("  ")[1].strip() if line.startswith(" ") else line.split("  ")[0]: line
             for line in text.splitlines() if line.strip()}
    row = lambda label: next(line for line in text.splitlines() if f" {label} " in f" {line} ")  # noqa: E731
    assert "95 % CI (Wilson)" in row("Accuracy")
    assert "95 % CI (paired bootstrap)" in row("Accuracy retained")
    assert "95 % CI of the median over the rounds; IQR" in row("Speedup")
    assert "CI" not in row("Size vs baseline")  # exact: no interval
    assert "in brackets: the confidence interval of the median" in text and lines
    # Five rounds cannot give a 95 % interval: the value says its level.
    five = Timing(Protocol(**{**protocol.to_dict(), "rounds": 5}),
                  {k: v[:5] for k, v in timing.rounds.items()})
    shown = figures.describe(speed_figures(five), "speedup")
    assert "93.8 % CI" in shown
    assert "too few rounds for 95 %" in figures.interval_label(speed_figures(five), "speedup")
    # An older run stored the IQR in the same keys: labelled as such, not as a confidence interval.
    assert "older run" in figures.interval_label({"speedup": 2.0, "speedup_low": 1.9, "speedup_high": 2.1}, "speedup")


def test_a_study_constraint_holds_only_when_its_whole_confidence_interval_meets_it():
    from core.study.spec_fields import Constraint

    faster = Constraint("speedup", ">=", 3.0)
    assert faster.holds({"speedup": 3.4, "speedup_low": 3.1, "speedup_high": 3.6})
    straddles = {"speedup": 3.4, "speedup_low": 2.6, "speedup_high": 3.9}  # the median meets it, the data do not
    assert not faster.holds(straddles) and faster.slack(straddles) == pytest.approx(0.4)
    assert faster.holds({"speedup": 3.4})  # a figure without an interval: its value
    quick = Constraint("latency_ms", "<", 20.0)
    assert not quick.holds({"latency_ms": 18.0, "latency_ms_low": 16.0, "latency_ms_high": 21.0})
    assert Constraint("size_ratio", ">=", 2.0).holds({"size_ratio": 2.0})  # exact: no interval
    # Simulated, nine rounds on a busy machine: a true speedup of 4.5 meets "speedup >= 3" nearly always, a true
    # 2.7 (which a lucky median could show above 3) almost never.
    rng = np.random.default_rng(7)
    shown = {true: sum(faster.holds(run_figures(rng, 0.010 / true, 9)) for _ in range(200)) / 200
             for true in (2.7, 4.5)}
    assert shown[2.7] <= 0.03 and shown[4.5] >= 0.9


def test_result_tables_label_a_timed_figure_s_ci_and_iqr():
    from bench.tables import ratio, ratio_keys

    protocol = Protocol(profile="custom", batch_size=1, lengths="fixed", max_length=8, threads=1, rounds=9)
    fig = speed_figures(Timing(protocol, {"baseline": [0.010] * 9, "final": [0.005] * 7 + [0.0025, 0.010]}))
    assert ratio_keys(fig) == ["speedup"]  # its level and quartiles are not ratios of their own
    assert ratio(fig) == "2.00x (95 % CI 2.00-2.00; IQR 2.00-2.00)"
    five = speed_figures(Timing(Protocol(**{**protocol.to_dict(), "rounds": 5}),
                                {"baseline": [0.010] * 5, "final": [0.005, 0.004, 0.005, 0.006, 0.005]}))
    assert ratio(five).startswith("2.00x (93.8 % CI 1.67-2.50; IQR")
