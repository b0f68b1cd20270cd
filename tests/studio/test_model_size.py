"""The "Model size" plot: parameters (millions) and size (MB) after every step of the stack, sparsity (%) from the
pruning methods."""

from __future__ import annotations

import numpy as np

from core import events as ev
from core.recipe import Step
from tests.conftest import tiny_recipe

RUN_TIMEOUT_MS = 90_000


def test_model_size_series_are_scaled_and_placed_after_their_step(qtbot):
    from studio.widgets.live_plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.on_metric(ev.Metric(run_id="r", key="train/loss", value=0.7, step=12))
    plots.on_step_finished(ev.StepFinished(run_id="r", index=0, method="finetune", summary={"parameters": 4_400_000}))
    plots.on_metric(ev.Metric(run_id="r", key="model/sparsity", value=0.10, step=12, index=1))
    plots.on_metric(ev.Metric(run_id="r", key="model/sparsity", value=0.25, step=14, index=1))  # one value a step
    plots.on_metric(ev.Metric(run_id="r", key="model/parameters", value=4_000_000, step=12, index=0))  # a method: per step only
    plots.on_metric(ev.Metric(run_id="r", key="model/size_bytes", value=16e6, step=0, index=-1))  # as loaded
    plots.on_metric(ev.Metric(run_id="r", key="model/size_bytes", value=5e6, step=14, index=2))  # int8, no training
    x, y = plots.series("model/parameters")
    assert list(x) == [1.0] and np.allclose(y, [4.4])  # after step 1, not at training step 12
    sx, sy = plots.series("model/sparsity")
    assert list(sx) == [2.0] and np.allclose(sy, [25.0])
    bx, by = plots.series("model/size_bytes")
    assert list(bx) == [0.0, 3.0] and np.allclose(by, [16.0, 5.0])  # in MB; the int8 step shows on its own
    plots.on_run_finished({"size_bytes": 5.2e6}, steps=3)
    assert np.allclose(plots.series("model/size_bytes")[1], [16.0, 5.2])  # the measured final size, same step
    # Sparsity lives in its own view box on the right axis, parameters in the plot's own.
    assert plots.curves["model/sparsity"].getViewBox() is plots.sparsity_view
    assert plots.curves["model/parameters"].getViewBox() is plots.size_plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: plots.drawn_count("model/sparsity") == 1, timeout=1000)
    plots.reset()
    assert not plots.curves and plots.sparsity_view.addedItems == [] and plots.last_step == 0


def test_a_run_draws_one_parameter_point_per_step_and_the_pruned_model_is_smaller(qtbot, window):
    recipe = tiny_recipe(
        Step("finetune", {"max_steps": 1, "batch_size": 16}),
        Step("prune.heads", {"amount": 0.5, "batches": 2, "batch_size": 8}),
        Step("prune.magnitude", {"sparsity": 0.5}),
        Step("finetune", {"max_steps": 2, "batch_size": 16}),
        train=64,
    )
    recipe.evaluation.measure_baseline = False
    window.set_recipe(recipe)
    finished = []
    window.controller.bridge.stepFinished.connect(finished.append)
    with qtbot.waitSignal(window.controller.bridge.runFinished, timeout=RUN_TIMEOUT_MS):
        window.start_run()
    plots = window.plots
    x, params = plots.series("model/parameters")
    # The model as loaded (step 0, before any step), then one point per step.
    assert len(params) == len(recipe.steps) + 1 and len(finished) == len(recipe.steps)
    assert x[0] == 0 and np.allclose(params[1:], [f.summary["parameters"] / 1e6 for f in finished])
    assert np.isclose(params[0], params[1])  # fine-tuning keeps the loaded model's size
    assert params[-1] < params[0]  # half the heads are gone
    assert list(x) == list(range(len(recipe.steps) + 1))  # plotted against the steps of the stack
    size_x, size_mb = plots.series("model/size_bytes")
    assert size_x[0] == 0 and size_x[-1] == len(recipe.steps) and size_mb[-1] < size_mb[0]  # heads removed
    [sparsity] = plots.series("model/sparsity")[1]
    assert 40.0 < sparsity <= 60.0  # prune.magnitude's 50 %, shown in percent
    qtbot.waitUntil(lambda: plots.drawn_count("model/parameters") == len(recipe.steps) + 1, timeout=2000)
    tabs = window.bottom_tabs
    assert tabs.tabText(tabs.indexOf(plots.size_plot)) == "Model size"
