"""The figures a run ends with: accuracy, size, parameters and latency, each beside the baseline's."""

from __future__ import annotations

import copy

from core.metrics.accuracy import evaluate_accuracy
from core.metrics.latency import compare_latency, fixed_batch
from core.models.architecture import count_parameters, serialized_size


def _on_cpu(state):
    """A CPU copy for latency timing (quantized models are CPU-only already)."""
    model = state.model
    if next(model.parameters(), None) is not None and next(model.parameters()).device.type != "cpu":
        model = copy.deepcopy(model).to("cpu")
    return model


def final_results(ctx, state) -> dict[str, float]:
    """Measure the final model against the baseline in the same run."""
    settings = ctx.recipe.evaluation
    results: dict[str, float] = {}
    loader = ctx.task.loader(settings.split, settings.batch_size, limit=settings.max_samples)
    ctx.progress(0, 3, "measuring accuracy", force=True)
    acc = evaluate_accuracy(state.model, loader, check=ctx.check)
    results["accuracy"] = acc["accuracy"]
    results["loss"] = acc["loss"]
    results["parameters"] = count_parameters(state.model)
    results["nonzero_parameters"] = count_parameters(state.model, nonzero=True)
    results["size_bytes"] = serialized_size(state.model)
    baseline = ctx.baseline or ctx.original
    models = {"final": _on_cpu(state)}
    if settings.measure_baseline and baseline is not None:
        ctx.progress(1, 3, "measuring the baseline", force=True)
        base_acc = evaluate_accuracy(baseline.model, loader, check=ctx.check)["accuracy"]
        results["baseline_accuracy"] = base_acc
        results["baseline_parameters"] = count_parameters(baseline.model)
        results["baseline_size_bytes"] = serialized_size(baseline.model)
        results["accuracy_retained"] = results["accuracy"] / base_acc if base_acc else float("nan")
        results["parameter_ratio"] = results["baseline_parameters"] / max(1, results["parameters"])
        results["size_ratio"] = results["baseline_size_bytes"] / max(1, results["size_bytes"])
        models["baseline"] = _on_cpu(baseline)
    ctx.progress(2, 3, "measuring latency", force=True)
    batch = fixed_batch(ctx.task, settings.split, settings.latency_batch_size, ctx.recipe.data.max_length)
    times = compare_latency(models, batch, repeats=settings.latency_repeats, check=ctx.check)
    results["latency_ms"] = times["final"] * 1000
    if "baseline" in times:
        results["baseline_latency_ms"] = times["baseline"] * 1000
        results["speedup"] = times["baseline"] / times["final"]
    ctx.progress(3, 3, "done", force=True)
    return results
