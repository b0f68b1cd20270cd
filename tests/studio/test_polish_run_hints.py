"""Before a run, the live plots and the Run dock say what will appear there; the hints leave when data comes."""

from __future__ import annotations

from core import events as ev
from studio.widgets.dashboard import Dashboard
from studio.widgets.live_plots import LivePlots
from tests.studio.conftest import shown


def _shown(plots: LivePlots) -> dict[str, bool]:
    return {name: hint.is_shown() for name, hint in plots.hints.items()}


def test_empty_plots_explain_themselves_until_their_data_arrives_and_again_after_reset(qtbot):
    plots = shown(qtbot, LivePlots(), 900, 320)
    assert _shown(plots) == {"loss": True, "accuracy": True, "size": True}
    assert "Ctrl+R" in plots.hints["loss"].text() and "accuracy" in plots.hints["accuracy"].text()
    for name in ("loss", "accuracy"):
        # The note lies over its plot's view box (wrapped to fit), and it is not a data item.
        plot = plots.plots[name]
        view = plot.mapFromScene(plot.getPlotItem().getViewBox().sceneBoundingRect()).boundingRect()
        hint = plots.hints[name]
        assert view.contains(hint.geometry()) and hint.width() > 100, name
        assert hint.heightForWidth(hint.width()) <= hint.height()  # the wrapped text fits its box
        assert plot.getPlotItem().listDataItems() == []

    plots.add_point("train/loss", 1, 0.7)
    assert _shown(plots) == {"loss": False, "accuracy": True, "size": True}  # accuracy comes with the first evaluation
    plots.add_point("val/accuracy", 2, 0.6)
    plots.on_step_finished(ev.StepFinished("run", index=0, method="finetune", summary={"parameters": 4_000_000}))
    assert _shown(plots) == {"loss": False, "accuracy": False, "size": False}

    plots.reset()  # a new run clears the plots: the notes come back
    assert _shown(plots) == {"loss": True, "accuracy": True, "size": True}


def test_run_dock_shows_a_hint_until_a_run_starts_then_the_steps(qtbot):
    dash = Dashboard()
    qtbot.addWidget(dash)
    dash.show()
    assert dash.hint.isVisible() and not dash.steps.isVisible()
    assert "Ctrl+R" in dash.hint.text()
    dash.on_run_started(ev.RunStarted("run", recipe={}, device="cpu", step_titles=("Fine-tune", "Int8")))
    assert dash.steps.isVisible() and not dash.hint.isVisible()
    assert dash.steps.count() == 2
