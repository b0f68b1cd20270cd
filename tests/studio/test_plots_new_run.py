"""A new run's live plots start clean: no axes from the last run, and notes that say what this run's plots wait
for (the screenshot tour saw a queued run whose fine-tune came from the step cache under the previous run's
0-80 axes and the "appear here when a run starts" note)."""

from __future__ import annotations

from studio.widgets.live_plots import LivePlots
from tests.studio.conftest import shown


def _x_range(plots: LivePlots, name: str) -> list[float]:
    return plots.plots[name].getPlotItem().getViewBox().viewRange()[0]


def test_a_started_run_drops_the_last_runs_axes_and_says_what_it_waits_for(qtbot):
    plots = shown(qtbot, LivePlots(), 900, 320)
    for step in range(0, 81, 10):
        plots.add_point("train/loss", step, 0.7 - step / 200)
    plots.add_point("val/accuracy", 80, 0.8)
    plots.redraw()
    qtbot.waitUntil(lambda: _x_range(plots, "loss")[1] >= 80, timeout=3000)

    plots.reset(running=True)
    assert _x_range(plots, "loss")[1] < 80 and _x_range(plots, "accuracy")[1] < 80
    loss_note = plots.hints["loss"]
    assert loss_note.is_shown() and "step cache" in loss_note.text() and "when a run starts" not in loss_note.text()
    plots.add_point("train/loss", 3, 0.5)  # the first trained step of this run
    assert not loss_note.is_shown()

    plots.reset()  # no run: the notes before any run come back
    assert "when a run starts" in plots.hints["loss"].text()
