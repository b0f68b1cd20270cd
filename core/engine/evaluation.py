"""The figures a run ends with: the task's figures, size, parameters and latency, each beside the baseline's.

Sequence classification ends with accuracy; the other task kinds with their own figures
(:mod:`core.engine.task_metrics`, named in :mod:`core.tasks.figures`), each with a bootstrap interval, and "retained"
is the task's headline figure (``<headline>_retained``: ``entity_f1_retained``, ``answer_f1_retained``,
``pearson_retained``, ``micro_f1_retained``) against the baseline's on the same examples, with a paired interval.

Every figure carries its spread (:mod:`core.metrics.intervals`): test accuracy
with a Wilson interval on the examples evaluated, accuracy retained with a
paired bootstrap interval (both models see the same examples), latency and
speedup from alternating rounds under a stated protocol
(:mod:`core.metrics.protocol`). The raw rounds and the protocol of every
profile timed are kept under ``results["timing"]`` so the figures can be
re-derived later (the database keeps non-numeric results in the run's figures).
"""

from __future__ import annotations

import copy

from core.metrics.accuracy import evaluate_accuracy
from core.metrics.intervals import paired_retained, wilson
from core.metrics.latency import measure_profile, speed_figures
from core.models.architecture import count_parameters, serialized_size


def _on_cpu(state):
    """A CPU copy for latency timing (quantized models are CPU-only already)."""
    model = state.model
    if next(model.parameters(), None) is not None and next(model.parameters()).device.type != "cpu":
        model = copy.deepcopy(model).to("cpu")
    return model


def accuracy_figures(acc: dict, prefix: str = "") -> dict[str, float]:
    """``accuracy`` with its 95 % Wilson interval (``_low``/``_high``) and ``evaluated`` examples."""
    n = int(acc.get("samples") or 0)
    low, high = wilson(round(acc["accuracy"] * n), n) if n else (float("nan"), float("nan"))
    out = {f"{prefix}accuracy": acc["accuracy"], f"{prefix}accuracy_low": low, f"{prefix}accuracy_high": high}
    if not prefix:
        out["evaluated"] = n
    return out


def retained_figures(final: dict, base: dict) -> dict[str, float]:
    """Accuracy retained with a paired bootstrap interval over the examples both models saw.

    The two may read the same examples tokenized differently (a step changed the data); they are
    paired row by row, which a data transition keeps (same rows, same order).
    """
    if not base["accuracy"]:
        return {"accuracy_retained": float("nan")}
    if len(final["correct"]) != len(base["correct"]):  # not the same examples: no pairing, no interval
        return {"accuracy_retained": final["accuracy"] / base["accuracy"]}
    kept = paired_retained(final["correct"], base["correct"])
    return {"accuracy_retained": kept.value, "accuracy_retained_low": kept.low, "accuracy_retained_high": kept.high}


def task_figures(scored, prefix: str = "") -> dict[str, float]:
    """A task's figures with their intervals (``KEY``, ``KEY_low``, ``KEY_high``) and counts, under ``prefix``."""
    if prefix:  # the counts (examples, entities, unanswerable) and the threshold are the final model's too
        return {f"{prefix}{k}": v for k, v in scored.results().items() if k not in scored.extra}
    return dict(scored.results())


def task_retained(final, base, key: str) -> dict[str, float]:
    """``key`` of the final model / the baseline's, paired over the examples both read (no interval when they did
    not read the same examples)."""
    name = f"{key}_retained"
    if final.scored is None or base.scored is None or final.evaluated != base.evaluated:
        den = base.figures.get(key)
        return {name: final.figures.get(key, float("nan")) / den if den else float("nan")}
    kept = final.scored.retained(base.scored, key)
    return {name: kept.value, f"{name}_low": kept.low, f"{name}_high": kept.high}


def _measure_task(ctx, state, results: dict) -> None:
    """The final model's and the baseline's task figures (a task kind other than sequence classification)."""
    from core.engine.task_metrics import evaluate_task
    from core.tasks.figures import HEADLINE

    settings, data = ctx.recipe.evaluation, ctx.recipe.data
    ctx.progress(0, 3, f"measuring {ctx.task.kind.value}", force=True)
    final = evaluate_task(state.model, ctx.task, settings.split, settings.batch_size, data,
                          limit=settings.max_samples, check=ctx.check, intervals=True)
    results.update(task_figures(final.scored))
    results["loss"] = final.loss
    reference = ctx.reference
    if settings.measure_baseline and reference is not None:
        ctx.progress(1, 3, "measuring the baseline", force=True)
        base = evaluate_task(reference.state.model, reference.task, settings.split, settings.batch_size, data,
                             limit=settings.max_samples, check=ctx.check, intervals=True)
        results.update(task_figures(base.scored, "baseline_"))
        results.update(task_retained(final, base, HEADLINE[ctx.task.kind]))


def final_results(ctx, state, timer=None) -> dict:
    """Measure the final model against the baseline in the same run (``timer``: tests inject a fake clock).

    Each model reads its own data: the final model the run's current data, the baseline (or the
    original) the data it was made with, its own tokenizer's ids, whatever steps changed since
    (``data_changes`` lists what they changed).
    """
    from core.tasks.kinds import TaskKind

    settings = ctx.recipe.evaluation
    results: dict = {}
    classification = getattr(ctx.task, "kind", TaskKind.SEQUENCE_CLASSIFICATION) is TaskKind.SEQUENCE_CLASSIFICATION
    if classification:
        loader = ctx.task.loader(settings.split, settings.batch_size, limit=settings.max_samples)
        ctx.progress(0, 3, "measuring accuracy", force=True)
        acc = evaluate_accuracy(state.model, loader, check=ctx.check, per_example=True)
        results.update(accuracy_figures(acc))
        results["loss"] = acc["loss"]
    else:
        _measure_task(ctx, state, results)
    results["parameters"] = count_parameters(state.model)
    results["nonzero_parameters"] = count_parameters(state.model, nonzero=True)
    results["size_bytes"] = serialized_size(state.model)
    reference = ctx.reference
    models = {"final": _on_cpu(state)}
    if settings.measure_baseline and reference is not None:
        baseline = reference.state
        if classification:
            ctx.progress(1, 3, "measuring the baseline", force=True)
            base_loader = loader if reference.task is ctx.task else reference.task.loader(
                settings.split, settings.batch_size, limit=settings.max_samples)
            base = evaluate_accuracy(baseline.model, base_loader, check=ctx.check, per_example=True)
            results.update(accuracy_figures(base, "baseline_"))
            results.update(retained_figures(acc, base))
        results["baseline_parameters"] = count_parameters(baseline.model)
        results["baseline_size_bytes"] = serialized_size(baseline.model)
        results["parameter_ratio"] = results["baseline_parameters"] / max(1, results["parameters"])
        results["size_ratio"] = results["baseline_size_bytes"] / max(1, results["size_bytes"])
        models["baseline"] = _on_cpu(baseline)
    if ctx.data_changes:
        results["data_changes"] = list(ctx.data_changes)
    ctx.progress(2, 3, "measuring latency", force=True)
    # Both models are timed on the same batches of the current data: after a vocabulary pruning its ids
    # are ids of the baseline's larger table too, and equal shapes time the models rather than the data.
    timing = {}
    for profile in settings.latency_profiles:
        timing[profile] = measure_profile(
            models, ctx.task, settings.split, profile, throughput_batch=settings.latency_batch_size,
            max_length=ctx.recipe.data.max_length, rounds=settings.latency_repeats, threads=settings.latency_threads,
            timer=timer, check=ctx.check).to_dict()
    # The headline latency and speedup are the first profile's; every profile stays re-derivable from "timing".
    results.update(speed_figures(timing[settings.latency_profiles[0]]))
    results["timing"] = timing
    ctx.progress(3, 3, "done", force=True)
    return results
