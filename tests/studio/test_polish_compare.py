"""The comparison explains blank figures and empty plots, keeps its legend off the curves, and says when the
recipes are identical."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from core.db.domain import MetricPoint
from studio.compare import group_reasons, missing_reason
from studio.widgets.run_compare import IDENTICAL, RunComparison
from tests.studio.conftest import quick_recipe, shown


def _run(name: str, results: dict, status: str = "finished", measure_baseline: bool = True, steps: int = 3):
    recipe = quick_recipe(max_steps=steps)
    recipe.name = name
    recipe.evaluation.measure_baseline = measure_baseline
    return SimpleNamespace(id=f"{name:x<32}", name=name, status=status, recipe=recipe.to_dict(), results=results,
                           figures=None)


def _series(final: float) -> dict[str, list[MetricPoint]]:
    # Accuracy that climbs to its final value: the upper right of the plot, where an in-view legend would sit.
    return {"val/accuracy": [MetricPoint(s, final * s / 4, 0.0) for s in range(1, 5)],
            "train/loss": [MetricPoint(s, 1.0 / s, 0.0) for s in range(1, 5)]}


NO_BASELINE = {"accuracy": 0.81, "parameters": 4.0e6, "size_bytes": 16e6, "latency_ms": 9.0}


@pytest.fixture
def view(qtbot):
    return shown(qtbot, RunComparison(), 1100, 900)


def test_missing_reason_follows_what_the_engine_measures():
    off = {"evaluation": {"measure_baseline": False}}
    assert missing_reason("finished", off, NO_BASELINE, "latency_ms") is None  # latency is always measured
    assert "measure_baseline" in missing_reason("finished", off, NO_BASELINE, "speedup")
    assert "failed" in missing_reason("failed", {}, {}, "latency_ms")
    assert group_reasons([("a", "was cancelled before its final measurement"),
                          ("b", "was cancelled before its final measurement")]) == \
        "a, b were cancelled before their final measurement"


def test_runs_without_a_baseline_explain_their_blank_columns_and_identical_recipes_say_so(qtbot, view):
    runs = [_run("int8", NO_BASELINE, measure_baseline=False),
            _run("fp32", dict(NO_BASELINE, accuracy=0.83, latency_ms=20.0), measure_baseline=False)]
    view.show_runs(runs, {r.id: _series(r.results["accuracy"]) for r in runs})
    table = view.results
    columns = [table.horizontalHeaderItem(j).text() for j in range(table.columnCount())]
    for row in range(2):
        for column in ("Retained", "Speedup"):
            cell = table.item(row, columns.index(column))
            assert cell.text() == "\u2014" and "measure_baseline" in cell.toolTip()
        assert table.item(row, columns.index("Params")).text() == "4.00 M"  # present figures are untouched
    assert view.results_note.isVisibleTo(view)
    assert "no Retained, Speedup" in view.results_note.text() and "baseline measurement" in view.results_note.text()
    # Without a baseline there are no ratios to plot (absolute latencies from different runs are never plotted):
    # the scatters say why instead.
    for scatter in view.scatters.values():
        assert scatter.hint.is_shown() and "baseline measurement" in scatter.hint.text()
    # Only the names differ: no empty table, a sentence instead.
    assert view.diff_note.text() == IDENTICAL and not view.diff.isVisibleTo(view)

    changed = copy.deepcopy(runs[1])
    changed.recipe["steps"][0]["settings"]["max_steps"] = 9
    view.show_runs([runs[0], changed], {})
    assert view.diff.isVisibleTo(view) and view.diff.rowCount() == 1 and view.diff_note.text() != IDENTICAL


def test_runs_that_never_reached_their_final_measurement_leave_a_note_in_the_empty_scatters(qtbot, view):
    runs = [_run("broken", {}, status="failed"), _run("stopped", {}, status="cancelled")]
    view.show_runs(runs, {})
    for scatter in view.scatters.values():
        assert scatter.hint.is_shown()
        assert f"No {scatter.cost} measured" in scatter.hint.text()
        assert "failed before its final measurement" in scatter.hint.text() and "cancelled" in scatter.hint.text()
    assert "no figures" in view.results_note.text()
    # One finished run beside a failed one: its dot is drawn, the other is named under the title.
    view.show_runs([_run("ok", dict(NO_BASELINE, speedup=2.0, size_ratio=2.0)), runs[0]], {})
    scatter = view.scatters["speedup"]
    assert not scatter.hint.is_shown()
    assert "not shown" in scatter.getPlotItem().titleLabel.text and "failed" in scatter.getPlotItem().titleLabel.text


def test_the_run_key_sits_outside_the_curves(qtbot, view):
    runs = [_run(f"variant-{n}", dict(NO_BASELINE, accuracy=a)) for n, a in enumerate((0.9, 0.85, 0.8))]
    view.show_runs(runs, {r.id: _series(r.results["accuracy"]) for r in runs})
    qtbot.wait(20)
    # One key above the plots for all four (the same colour is the same run everywhere), no legend in a view.
    assert view.key.isVisible() and all(view.key.text().count(r.name) == 1 for r in runs)
    for name in ("accuracy", "loss"):
        item = view.curves[name].getPlotItem()
        assert len(item.listDataItems()) == 3, name
        assert not item.legend.isVisible(), name


def test_curve_plots_without_series_say_so(qtbot, view):
    runs = [_run("a", {}, status="failed"), _run("b", {}, status="failed")]
    view.show_runs(runs, {runs[0].id: {"train/loss": _series(0.5)["train/loss"]}})
    assert not view.curve_hints["loss"].is_shown()
    assert view.curve_hints["accuracy"].is_shown() and "No accuracy" in view.curve_hints["accuracy"].text()


def test_a_curve_of_one_point_is_drawn_as_a_dot(qtbot, view):
    # A trial whose teacher came from the step cache may record one validation accuracy: a line of one point
    # is invisible, so short series get dots; long ones stay plain lines.
    from core.db.domain import MetricPoint

    runs = [_run("a", {}), _run("b", {})]
    one = {"val/accuracy": [MetricPoint(95, 0.74, 0.0)]}
    view.show_runs(runs, {runs[0].id: one, runs[1].id: _series(0.8)})
    symbols = {len(item.xData): item.opts["symbol"] for item in view.curves["accuracy"].getPlotItem().listDataItems()}
    assert symbols[1] == "o" and all(symbol is None for n, symbol in symbols.items() if n >= 3), symbols
