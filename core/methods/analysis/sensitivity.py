"""Sensitivity analysis: how much each attention head and each layer matters to the task."""

from __future__ import annotations

import json
from dataclasses import dataclass

from core import events
from dataclasses import replace

from core.models.adapters import adapter_for
from core.methods.pruning.ablation import baseline, head_ablation, layer_ablation
from core.methods.pruning.importance import (head_gradient_importance, layer_gradient_importance, normalise_rows,
                                             scale_rows, task_batches)
from core.methods.pruning.structured import SENSITIVITY_KEY
from core.methods.task_measure import has_accuracy, task_kind
from core.models.surgery import head_counts
from core.registry import register_method, setting

# How the head scores are scaled for display (normalise_rows, then scale_rows): said with the event that carries them.
DISPLAY_SCALE = "per-layer L2 norm, then divided by the largest (0 to 1)"


@dataclass
class SensitivitySettings:
    measure: str = setting("gradient", "Gradient importance (fast), the validation-accuracy drop when each head "
                           "or layer is switched off (one evaluation each; the task's loss increase for a task "
                           "without accuracy), or both",
                           choices=("gradient", "accuracy_drop", "both"))
    batches: int = setting(32, "Training batches for the gradient importance", min=1, max=10000)
    batch_size: int = setting(32, "Sentences per batch", min=1, max=4096)
    eval_samples: int | None = setting(256, "Validation sentences per accuracy measurement (empty: all)",
                                       min=1, optional=True)
    layers: bool = setting(True, "Also score whole layers")


def analyse(state, cfg: SensitivitySettings, ctx) -> dict:
    """Plain-list scores: ``heads`` / ``layers`` hold the primary measure (higher = more important)."""
    model = state.model
    out: dict = {"head_counts": head_counts(model)}
    if cfg.layers and adapter_for(model).shares_layers:
        cfg = replace(cfg, layers=False)
        ctx.log(f"{adapter_for(model).title} shares its layers across depths: no per-layer scores", "warning")
    if cfg.measure in ("gradient", "both"):
        ctx.progress(0, 1, "head gradients", force=True)
        out["heads_gradient"] = head_gradient_importance(
            model, task_batches(ctx, model, "train", cfg.batch_size, cfg.batches))
        if cfg.layers:
            out["layers_gradient"] = layer_gradient_importance(
                model, task_batches(ctx, model, "train", cfg.batch_size, cfg.batches))
    if cfg.measure in ("accuracy_drop", "both"):
        def make_loader():
            return ctx.task.loader("validation", max(64, cfg.batch_size), limit=cfg.eval_samples)

        kind = task_kind(ctx.task)
        accuracy = has_accuracy(kind)
        base_acc, base_loss = baseline(model, make_loader, ctx.check, kind)
        if accuracy:
            out["baseline_accuracy"] = base_acc
        out["baseline_loss"] = base_loss
        heads = head_ablation(model, make_loader, ctx.check,
                              progress=lambda d, t: ctx.progress(d, t, f"head {d}/{t} switched off"), kind=kind)
        if accuracy:
            out["heads_accuracy_drop"] = [[base_acc - acc for acc, _ in row] for row in heads]
        out["heads_loss_increase"] = [[loss - base_loss for _, loss in row] for row in heads]
        if cfg.layers:
            layers = layer_ablation(model, make_loader, ctx.check, kind)
            if accuracy:
                out["layers_accuracy_drop"] = [base_acc - acc for acc, _ in layers]
            out["layers_loss_increase"] = [loss - base_loss for _, loss in layers]
        if not accuracy:
            ctx.log(f"a {kind.value} task has no accuracy: each head and layer is scored by the increase of the "
                    "task's loss when it is switched off")
    primary = "gradient" if cfg.measure in ("gradient", "both") else \
        ("accuracy_drop" if has_accuracy(task_kind(ctx.task)) else "loss_increase")
    out["metric"] = primary
    out["heads"] = out[f"heads_{primary}"]
    out["layers"] = out.get(f"layers_{primary}", [])
    return out


@register_method(
    "analyze.sensitivity",
    family="analysis",
    title="Sensitivity analysis",
    description="Score every attention head and layer by gradient importance and/or the validation-accuracy "
    "drop when it is switched off. Later head and layer pruning steps can use the scores "
    "(importance_source: sensitivity). Does not change the model.",
    config=SensitivitySettings,
    phrase="sensitivity",
)
def sensitivity(state, cfg: SensitivitySettings, ctx):
    result = analyse(state, cfg, ctx)
    new = state.replace()
    new.extras[SENSITIVITY_KEY] = result
    ctx.importance("heads", scale_rows(normalise_rows(result["heads"])), metric=result["metric"],
                   scale=DISPLAY_SCALE, levels=(0.0, 1.0))
    path = ctx.step_dir() / "sensitivity.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    ctx.emit(events.Checkpoint, index=ctx.step_index, path=str(path), kind="sensitivity")
    ranked = sorted(((v, i, h) for i, row in enumerate(result["heads"]) for h, v in enumerate(row)))
    least = ", ".join(f"L{i}H{h}" for _, i, h in ranked[:5])
    ctx.log(f"sensitivity ({result['metric']}): least important heads {least}")
    if result["layers"]:
        ctx.log("layer sensitivity: " + ", ".join(f"{i}: {v:.4g}" for i, v in enumerate(result["layers"])))
    ctx.progress(1, 1, "analysed", force=True)
    return new
