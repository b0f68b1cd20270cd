"""The live dashboard per task (issue 21 part 6): the figure plot shows the task's headline validation figure
with its name (not val/accuracy), and a finished run lists the task's own figures."""

from __future__ import annotations

import pytest

from core import events as ev
from studio.widgets.dashboard import Dashboard
from studio.widgets.live_plots import LivePlots, plot_for_key


def _metric(key: str, value: float, step: int) -> ev.Metric:
    return ev.Metric("run", key=key, value=value, step=step)


def _titles(plots: LivePlots) -> tuple[str, str]:
    item = plots.plots["accuracy"].getPlotItem()
    return item.titleLabel.text, item.getAxis("left").labelText


@pytest.mark.parametrize("task, headline, title, companion", [
    ("token-classification", "val/entity_f1", "Entity F1", None),
    ("question-answering", "val/answer_f1", "F1", "val/exact_match"),
    ("multi-label", "val/micro_f1", "Micro F1", "val/macro_f1"),
])
def test_the_figure_plot_shows_the_task_headline_with_its_name(qtbot, task, headline, title, companion):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.set_task(task)
    assert _titles(plots) == (title, title)
    assert title in plots.hints["accuracy"].text()
    for step, value in ((10, 0.4), (20, 0.6)):
        plots.on_metric(_metric(headline, value, step))
        plots.on_metric(_metric("val/token_accuracy" if task == "token-classification" else "val/subset_accuracy",
                                0.9, step))
        if companion:
            plots.on_metric(_metric(companion, value / 2, step))
    plots.redraw()
    assert plots.drawn_count(headline) == 2 and list(plots.series(headline)[1]) == [0.4, 0.6]
    assert plots.curves[headline].name() == f"validation {title}"
    # The task's other figures stay off the plot (the run's summary lists them); a companion on the same scale shows.
    assert "val/token_accuracy" not in plots.curves and "val/subset_accuracy" not in plots.curves
    assert (companion in plots.curves) == bool(companion)
    assert not plots.hints["accuracy"].is_shown()


def test_regression_plots_pearson_from_minus_one_and_mse_beside_the_loss(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.on_metric(_metric("val/pearson", -0.2, 5))  # no task set: the headline figure names it
    plots.on_metric(_metric("val/mse", 1.4, 5))
    plots.on_metric(_metric("val/spearman", 0.1, 5))
    assert plots.task == "regression" and _titles(plots)[0] == "Pearson r"
    assert plots.plots["accuracy"].getPlotItem().getViewBox().viewRange()[1][0] == pytest.approx(-1.0, abs=0.1)
    assert plots.curves["val/mse"] in plots.plots["loss"].getPlotItem().listDataItems()
    assert "val/spearman" not in plots.curves


def test_sentence_classification_keeps_its_accuracy_curve():
    assert plot_for_key("val/accuracy") == "accuracy" and plot_for_key("val/entity_f1") == "accuracy"
    assert plot_for_key("val/strict_entity_f1", "token-classification") is None
    assert plot_for_key("val/mse", "regression") == "loss"


def test_a_finished_run_lists_the_task_figures(qtbot):
    dash = Dashboard()
    qtbot.addWidget(dash)
    recipe = {"task": "token-classification"}
    dash.on_run_started(ev.RunStarted("run", recipe=recipe, device="cpu", step_titles=("Fine-tune",)))
    assert dash.figures.isHidden()
    results = {"entity_f1": 0.8, "entity_f1_low": 0.7, "entity_f1_high": 0.9, "entity_precision": 0.75,
               "entity_recall": 0.85, "token_accuracy": 0.95, "entity_f1_retained": 0.98, "speedup": 1.2}
    dash.on_run_ended(ev.RunFinished("run", results=results), "Finished")
    text = dash.figures.text()
    assert not dash.figures.isHidden()
    assert "Entity F1: 80.00 % (70.00\u201390.00)" in text and "Token accuracy: 95.00 %" in text
    assert "Entity F1 retained: 98.00 %" in text and "ccuracy:" not in text.replace("Token accuracy", "")
    # A new run clears them.
    dash.on_run_started(ev.RunStarted("run2", recipe={"task": "regression"}, device="cpu", step_titles=("x",)))
    assert dash.figures.isHidden() and dash.task == "regression"


def test_the_window_plot_names_the_chosen_task_figure_before_a_run(qtbot, window):
    panel = window.data_panel
    panel.choose_task("question-answering")
    item = window.plots.plots["accuracy"].getPlotItem()
    assert item.titleLabel.text == "F1" and "Validation F1" in window.plots.hints["accuracy"].text()
    panel.choose_task("sequence-classification")
    assert item.titleLabel.text == "Accuracy"
