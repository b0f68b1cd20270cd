"""The Study view's trials table marks a speedup whose interval is wide, as the saved runs and the CLI do (the
screenshot tour found a one-shot magnitude trial at 2.65x, which cannot speed up a dense model, unmarked)."""

from __future__ import annotations

from types import SimpleNamespace

from studio.compare import UNRELIABLE_MARK
from studio.study.trials_table import TrialsTable


def _trial(number: int, low: float, high: float):
    figures = {"accuracy_retained": 0.99, "speedup": 2.65, "speedup_low": low, "speedup_high": high,
               "speedup_level": 0.95, "size_ratio": 1.0}
    return SimpleNamespace(number=number, label=f"trial {number}", status="finished", value=1.0, figures=figures,
                           run_id=f"{number:032d}", note="", feasible=True, params={})


def test_a_wide_speedup_interval_is_marked_unreliable_and_a_narrow_one_is_not(qtbot):
    table = TrialsTable()
    qtbot.addWidget(table)
    table.show_trials([_trial(0, 1.0, 4.4), _trial(1, 2.6, 2.7)])
    wide, narrow = table.item(0, 5), table.item(1, 5)
    assert UNRELIABLE_MARK in wide.text() and "busy" in wide.toolTip()
    assert UNRELIABLE_MARK not in narrow.text() and narrow.text().startswith("2.65")
