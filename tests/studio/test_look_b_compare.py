"""The comparison and a run's details, second look (#23): the wheel scrolls the pane, runs on different models are
warned about, and runs without curves show a placeholder and fresh axes, not the last runs' ranges."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.widgets.run_compare import RunComparison
from studio.widgets.run_details import RunDetails
from tests.studio.conftest import shown, stored_runs
from tests.studio.test_look_b_runs import FAST, NOISY, record


def _wheel(widget, down: bool = True) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(), QPoint(0, -120 if down else 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_over_a_plot_scrolls_the_comparison_instead_of_zooming(qtbot, db_url):
    records, series = stored_runs(db_url, record(db_url, "a", FAST), record(db_url, "b", NOISY))
    comparison = shown(qtbot, RunComparison(), 1000, 500)  # too short for every plot: the pane scrolls
    comparison.show_runs(records, series)
    qtbot.wait(50)
    bar = comparison.scroll.verticalScrollBar()
    assert bar.maximum() > 0
    scatter = comparison.scatters["speedup"]
    before = scatter.getPlotItem().getViewBox().viewRange()
    _wheel(scatter.viewport())
    assert bar.value() > 0  # the pane moved down
    assert scatter.getPlotItem().getViewBox().viewRange() == before  # and the plot did not zoom


def test_runs_on_different_models_are_warned_that_their_ratios_have_different_baselines(qtbot, db_url):
    same, _ = stored_runs(db_url, record(db_url, "a", FAST), record(db_url, "b", FAST))
    other = record(db_url, "c", NOISY, model="zz-other-model")
    mixed, _ = stored_runs(db_url, same[0].id, other)
    comparison = shown(qtbot, RunComparison(), 1000, 700)
    comparison.show_runs(same, {})
    assert not comparison.baselines.isVisible()
    comparison.show_runs(mixed, {})
    assert comparison.baselines.isVisible()
    text = comparison.baselines.text()
    assert "zz-other-model" in text and "different baseline" not in text and "its own run's baseline" in text


def test_runs_without_curves_get_a_placeholder_and_fresh_axes(qtbot, db_url):
    from tests.studio.conftest import quick_recipe, record_run

    curved = record_run(db_url, quick_recipe(), FAST, losses=(50.0, 40.0, 30.0), accuracies=(0.5, 0.6))
    bare = record(db_url, "bare", {"accuracy": 0.8})
    stopped = record(db_url, "stopped", None, status="cancelled")
    (with_curves, *_), series = stored_runs(db_url, curved)
    (without, cancelled), _ = stored_runs(db_url, bare, stopped)

    details = shown(qtbot, RunDetails(), 900, 600)
    details.show_run(with_curves, series[curved])
    loss = details.plots["loss"].getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: loss.viewRange()[1][1] > 30, timeout=2000)
    details.show_run(without, {})
    qtbot.wait(100)
    assert loss.viewRange()[1][1] < 2  # not the last run's 30..50
    assert details.hints["loss"].isVisible() and "No loss" in details.hints["loss"].text()
    details.show_run(cancelled, {})
    assert "cancelled" in details.hints["accuracy"].text()
    details.show_run(with_curves, series[curved])
    assert not details.hints["loss"].isVisible()

    comparison = shown(qtbot, RunComparison(), 1000, 700)
    comparison.show_runs([with_curves, without], {curved: series[curved]})
    qtbot.waitUntil(lambda: comparison.curves["loss"].getPlotItem().getViewBox().viewRange()[1][1] > 30, timeout=2000)
    comparison.show_runs([without, cancelled], {})
    qtbot.wait(100)
    for plot in (*comparison.curves.values(), *comparison.scatters.values()):
        (x0, x1), (y0, y1) = plot.getPlotItem().getViewBox().viewRange()
        assert x1 <= 1.5 and y1 <= 1.5, plot  # the old runs' ranges are gone
    assert comparison.curve_hints["loss"].isVisible()
