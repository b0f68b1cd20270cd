import threading

import torch

from core import events as ev
from core.engine.control import RunControl
from core.recipe import DataRef, Step
from tests.conftest import tiny_recipe


def collect(bus, kinds=(ev.Event,)):
    seen = []
    for kind in kinds:
        bus.subscribe(kind, seen.append)
    return seen


def test_run_emits_typed_events_in_order_and_measures(engine):
    seen = collect(engine.bus)
    result = engine.run(tiny_recipe(Step("finetune", {"max_steps": 4, "learning_rate": 1e-3}), Step("evaluate")))
    assert result.status == "finished", result.error
    kinds = [type(e).__name__ for e in seen if not isinstance(e, (ev.Metric, ev.Progress, ev.LogMessage))]
    assert kinds == ["RunStarted", "StepStarted", "StepFinished", "StepStarted", "StepFinished", "Checkpoint", "RunFinished"]
    checkpoint = next(e for e in seen if isinstance(e, ev.Checkpoint))
    assert checkpoint.kind == "final" and (result.workdir / "final" / "config.json").is_file()
    losses = [e for e in seen if isinstance(e, ev.Metric) and e.key == "train/loss"]
    assert [m.step for m in losses] == [1, 2, 3, 4]
    assert any(isinstance(e, ev.Metric) and e.key == "val/accuracy" for e in seen)
    res = result.results
    assert 0.0 <= res["accuracy"] <= 1.0
    assert res["parameters"] == res["baseline_parameters"]  # fine-tuning compresses nothing
    assert res["latency_ms"] > 0 and res["speedup"] > 0
    assert all(e.run_id == result.run_id for e in seen)


def test_masks_survive_recovery_training_and_int8_shrinks_size(engine):
    recipe = tiny_recipe(
        Step("finetune", {"max_steps": 2}),
        Step("prune.magnitude", {"sparsity": 0.6}),
        Step("finetune", {"max_steps": 3, "learning_rate": 1e-2}),
        Step("quant.dynamic_int8"),
    )
    result = engine.run(recipe)
    assert result.status == "finished", result.error
    masks = result.state.masks
    kept = sum(int(m.sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    assert abs(1 - kept / total - 0.6) < 0.01
    pruned_zeros = total - kept
    res = result.results
    assert res["baseline_parameters"] - res["nonzero_parameters"] >= pruned_zeros
    assert res["size_bytes"] < res["baseline_size_bytes"]


def test_cancel_between_batches_stops_the_run(engine):
    control = RunControl()
    seen = collect(engine.bus, (ev.Metric,))

    def cancel_on_second_loss(event):
        if event.key == "train/loss" and event.step >= 2:
            control.cancel()

    engine.bus.subscribe(ev.Metric, cancel_on_second_loss)
    result = engine.run(tiny_recipe(Step("finetune", {"max_steps": 50})), control=control)
    assert result.status == "cancelled"
    assert max(m.step for m in seen if m.key == "train/loss") == 2


def test_pause_blocks_until_resume(engine):
    recipe = tiny_recipe(Step("finetune", {"max_steps": 6, "epochs": 2}))
    losses = []
    paused_at = threading.Event()
    handle_box = {}

    def on_metric(event):
        if event.key == "train/loss":
            losses.append(event.step)
            if event.step == 2:
                handle_box["h"].pause()
                paused_at.set()

    held, acknowledged = [], threading.Event()
    engine.bus.subscribe(ev.Metric, on_metric)
    engine.bus.subscribe(ev.RunPaused, lambda e: (held.append((e.step, list(losses))), acknowledged.set()))
    handle = engine.start(recipe)
    handle_box["h"] = handle
    assert paused_at.wait(300)  # generous: loading the tiny model takes a minute on a loaded machine
    assert acknowledged.wait(60), "the run never acknowledged the pause"
    assert held == [(2, [1, 2])] and not handle.done  # it holds after step 2, acknowledged once
    handle.resume()
    result = handle.join(120)
    assert result.status == "finished" and losses == [1, 2, 3, 4, 5, 6]


def test_failure_inside_a_run_is_reported_not_raised(engine, tmp_path):
    seen = collect(engine.bus, (ev.RunFailed,))
    recipe = tiny_recipe(Step("finetune", {"max_steps": 1}))
    recipe.data = DataRef(source=str(tmp_path / "missing.csv"))
    result = engine.run(recipe)
    assert result.status == "failed"
    assert "no dataset at" in result.error
    assert len(seen) == 1 and "missing.csv" in seen[0].error


def test_finetune_before_compression_becomes_the_baseline(engine):
    result = engine.run(tiny_recipe(Step("finetune", {"max_steps": 3, "learning_rate": 5e-3}), Step("quant.dynamic_int8")))
    assert result.status == "finished", result.error
    # The baseline is the fine-tuned float model, so int8 keeps accuracy near it.
    assert abs(result.results["accuracy"] - result.results["baseline_accuracy"]) <= 0.1
    assert result.state.quantized
    assert not any(isinstance(p, torch.nn.Parameter) and p.dtype == torch.qint8 for p in result.state.model.parameters())
