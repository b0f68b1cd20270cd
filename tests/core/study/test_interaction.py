"""The null model's arithmetic against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from core.study.interaction import INSIDE, MEASURABLE, UNKNOWN, Effect, RunFigures, pair_tables


def figs(speedup, size, acc, base=0.80, **extra):
    return {"speedup": speedup, "size_ratio": size, "accuracy": acc, "baseline_accuracy": base, **extra}


def test_interaction_and_order_effects_by_hand():
    runs = {
        (2,): figs(1.5, 1.2, 0.78, speedup_low=1.45, speedup_high=1.55, accuracy_low=0.77, accuracy_high=0.79),
        (3,): figs(2.0, 1.5, 0.77, speedup_low=1.9, speedup_high=2.1, accuracy_low=0.76, accuracy_high=0.78),
        (2, 3): figs(2.4, 1.8, 0.70, speedup_low=2.3, speedup_high=2.5, accuracy_low=0.69, accuracy_high=0.71),
        (3, 2): figs(2.9, 1.8, 0.74, speedup_low=2.8, speedup_high=3.0, accuracy_low=0.73, accuracy_high=0.75),
    }
    (table,) = pair_tables({2: "heads", 3: "ffn"}, runs, [2, 3], sitting_noise=0)  # the rounds' intervals alone
    assert (table.a, table.b) == ("heads", "ffn")
    # Null: speedups and sizes multiply, drops add.
    assert table.null_speedup == pytest.approx(3.0)
    assert table.null_size_ratio == pytest.approx(1.8)
    assert table.null_drop == pytest.approx(0.02 + 0.03)
    # A -> B: 2.4 / (1.5 * 2.0) = 0.8, relative spread sqrt((0.1/2.4)^2 + (0.05/1.5)^2 + (0.1/2)^2).
    speed = table.speed_interaction(table.ab)
    rel = math.sqrt((0.1 / 2.4) ** 2 + (0.05 / 1.5) ** 2 + (0.1 / 2.0) ** 2)
    assert speed.value == pytest.approx(0.8) and speed.spread == pytest.approx(0.8 * rel)
    assert speed.verdict == MEASURABLE  # 0.2 below 1 against a spread of about 0.058
    # Drop: 0.10 - (0.02 + 0.03) = 0.05, spread sqrt(3 * 0.01^2).
    drop = table.drop_interaction(table.ab)
    assert drop.value == pytest.approx(0.05) and drop.spread == pytest.approx(math.sqrt(3) * 0.01)
    assert drop.verdict == MEASURABLE
    # Sizes are exact and here exactly multiplicative: no interaction, inside the (tiny) tolerance.
    assert table.size_interaction(table.ab).value == pytest.approx(1.0)
    assert table.size_interaction(table.ab).inside_noise
    # Order: 2.4 / 2.9, and 0.10 - 0.06 = 0.04 with spread sqrt(2) * 0.01.
    order = table.order_speed()
    assert order.value == pytest.approx(2.4 / 2.9) and order.verdict == MEASURABLE
    assert table.order_drop().value == pytest.approx(0.04)
    assert table.order_drop().spread == pytest.approx(math.sqrt(2) * 0.01)
    assert table.order_size().inside_noise
    # With the sitting-to-sitting noise (10 % of each speedup) in quadrature, the spreads widen.
    (noisy,) = pair_tables({2: "heads", 3: "ffn"}, runs, [2, 3])
    wide = noisy.speed_interaction(noisy.ab)
    assert wide.spread == pytest.approx(0.8 * math.sqrt(rel ** 2 + 3 * 0.10 ** 2))
    assert wide.low <= 0.8 <= wide.high and wide.verdict == MEASURABLE  # 0.2 from 1 against about 0.15


def test_effects_inside_the_noise_are_called_so():
    runs = {
        (1,): figs(1.4, 1.0, 0.79),
        (2,): figs(1.5, 1.0, 0.79),
        (1, 2): figs(2.2, 1.0, 0.78),  # 2.2 / 2.1 = 1.048: well inside the default 10 % per-figure noise
    }
    (table,) = pair_tables({1: "a", 2: "b"}, runs, [1, 2])
    speed = table.speed_interaction(table.ab)
    assert speed.value == pytest.approx(2.2 / 2.1)
    assert speed.spread == pytest.approx(speed.value * math.sqrt(3) * 0.10)
    assert speed.verdict == INSIDE
    # No interval and no example count for accuracy: the call is "spread unknown", never a ranking.
    assert table.drop_interaction(table.ab).verdict == UNKNOWN
    assert table.ba is None and table.order_speed() is None


def test_accuracy_spread_falls_back_to_the_evaluated_examples():
    run = RunFigures.from_figures(figs(1.0, 1.0, 0.75, evaluated=300))
    assert run.drop.value == pytest.approx(0.05)
    assert run.drop.spread == pytest.approx(1.959963984540054 * math.sqrt(0.75 * 0.25 / 300))
    # The paired retained interval wins when present: half its width times the baseline accuracy.
    paired = RunFigures.from_figures(figs(1.0, 1.0, 0.75, accuracy_retained_low=0.9, accuracy_retained_high=0.96))
    assert paired.drop.spread == pytest.approx(0.03 * 0.80)


def test_pairs_without_both_single_runs_are_left_out():
    runs = {(1,): figs(1.2, 1.0, 0.8), (1, 2): figs(2.0, 1.0, 0.7)}
    assert pair_tables({1: "a", 2: "b"}, runs, [1, 2]) == []
    assert Effect(math.nan, 0.1, 1.0).verdict == UNKNOWN
