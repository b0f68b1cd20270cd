"""Issue 23, item 1.5: the run's ETA counts the later steps and the final measurement, learns its speed from steps
that were computed (not reused from the step cache), and says what it counts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from core import events as ev
from studio.run_eta import measured_rate, measurement_seconds
from studio.widgets.dashboard import Dashboard
from tests.studio.conftest import shown

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
RECIPE = {"model": {"source": "tiny"}, "data": {"train_samples": 320},
          "steps": [{"method": "finetune", "settings": {"epochs": 1.0, "batch_size": 32}},
                    {"method": "prune.magnitude", "settings": {"sparsity": 0.5}},
                    {"method": "finetune", "settings": {"epochs": 0.5, "batch_size": 32}}]}




def _step(index, seconds, reused=False, start=0.0):
    summary = {"reused_from": "earlier-run"} if reused else {}
    return SimpleNamespace(index=index, status="finished", started_at=T0 + timedelta(seconds=start),
                           ended_at=T0 + timedelta(seconds=start + seconds), summary=summary)


def _record(steps, measured=60.0, name="earlier", run_id="a" * 32):
    end = max(s.ended_at for s in steps) + timedelta(seconds=measured)
    return SimpleNamespace(id=run_id, name=name, status="finished", recipe=RECIPE, steps=steps, ended_at=end,
                           started_at=T0, model_source="tiny", device="cpu")


def test_the_run_eta_counts_later_steps_and_the_measurement_and_says_so(qtbot, clock):
    dash = shown(qtbot, Dashboard(), 320, 480)
    dash.on_run_started(ev.RunStarted("r", recipe=RECIPE, device="cpu", step_titles=("Fine-tune", "Prune", "Recover")))
    dash.estimate.measure_seconds = 60.0  # as long as a recent run's measurement (the window primes it)
    dash.on_step_started(ev.StepStarted("r", index=0, method="finetune", title="Fine-tune"))
    clock.now += 20
    dash.on_progress(ev.Progress("r", index=0, current=5, total=10, message="step 5/10"))  # 4 s a batch
    dash._tick()
    # 20 s left in this step + 5 recovery batches at 4 s + 60 s of measurement
    assert dash.run_eta.text() == "\u2248 1:40 (training + measuring)"
    for index in range(3):
        dash.on_step_finished(ev.StepFinished("r", index=index, method="x", summary={}))
    dash.current = 2
    dash._tick()
    assert dash.run_eta.text() == "\u2248 1:00 (measuring)"  # before: a dash while latency was measured
    clock.now += 30
    dash._tick()
    assert dash.run_eta.text() == "\u2248 0:30 (measuring)"
    clock.now += 40
    dash._tick()
    assert dash.run_eta.text() == "measuring (longer than last time)"


def test_a_stack_that_does_not_train_is_estimated_from_the_measurement_alone(qtbot, clock):
    dash = shown(qtbot, Dashboard(), 320, 480)
    recipe = {"steps": [{"method": "prune.magnitude", "settings": {"sparsity": 0.5}},
                        {"method": "quant.dynamic_int8", "settings": {}}]}
    dash.on_run_started(ev.RunStarted("r", recipe=recipe, device="cpu", step_titles=("Prune", "Int8")))
    dash.estimate.measure_seconds = 45.0
    dash.on_step_started(ev.StepStarted("r", index=0, method="prune.magnitude", title="Prune"))
    dash._tick()
    assert dash.run_eta.text() == "\u2248 0:45 (training + measuring)"


def test_the_speed_comes_from_computed_steps_not_from_the_step_cache():
    computed = _record([_step(0, 40.0), _step(1, 1.0, start=40), _step(2, 20.0, start=41)])
    assert measured_rate(computed) == pytest.approx(60.0 / 480)  # 480 sentences in 60 s
    cached = _record([_step(0, 0.01, reused=True), _step(1, 1.0), _step(2, 20.0, start=1)])
    assert measured_rate(cached) == pytest.approx(20.0 / 160)  # the recovery only
    all_cached = _record([_step(0, 0.01, reused=True), _step(1, 0.01, reused=True), _step(2, 0.01, reused=True)])
    assert measured_rate(all_cached) is None  # before: 0.00003 s a sentence, "≈ 0:00 of training"
    assert measurement_seconds(computed) == pytest.approx(60.0)


def test_the_estimate_before_a_run_skips_a_run_whose_training_was_cached(qtbot, window, monkeypatch):
    newest = _record([_step(0, 0.01, reused=True), _step(1, 0.01, reused=True), _step(2, 0.01, reused=True)],
                     measured=50.0, name="all cached", run_id="b" * 32)
    older = _record([_step(0, 40.0), _step(1, 1.0, start=40), _step(2, 20.0, start=41)], name="computed")
    records = {r.id: r for r in (newest, older)}
    with monkeypatch.context() as patched:  # the runs the database would hold
        patched.setattr(window.store, "list_runs", lambda *a, **k: [newest, older])
        patched.setattr(window.store, "get_run", lambda run_id: records[run_id])
        window.learn_speed()
    recipe = window.recipe()
    recipe.model.source = "tiny"
    recipe.data.train_samples = 320
    window.set_recipe(recipe)
    text = window.estimate_label.text()
    assert "0:00" not in text and "training" in text and "measuring 0:50" in text, text
    assert "computed" in window.estimate_label.toolTip()
    # The live estimate of the next run starts from the same figures.
    window.controller.bridge.runStarted.emit(ev.RunStarted("r", recipe=recipe.to_dict(), device="cpu",
                                                           step_titles=tuple(s.title() for s in recipe.steps)))
    assert window.dashboard.estimate.measure_seconds == pytest.approx(50.0)
    assert window.dashboard.estimate.seconds_per_sample == pytest.approx(60.0 / 480)
