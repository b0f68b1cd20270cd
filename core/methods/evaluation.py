"""An evaluation checkpoint inside the stack, so curves show accuracy (the task's figures) between steps."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.task_measure import evaluate_loss, has_accuracy, task_kind
from core.metrics.accuracy import evaluate_accuracy
from core.models.architecture import count_parameters
from core.registry import register_method, setting


@dataclass
class EvaluateSettings:
    split: str = setting("validation", "Which split to measure", choices=("validation", "test"))
    max_samples: int | None = setting(None, "Sentences to use (empty: the whole split)", min=1, optional=True)


@register_method(
    "evaluate",
    family="analysis",
    title="Evaluate",
    description="Measure accuracy (the task's own figures for a task without accuracy) and parameter count at this "
    "point of the stack.",
    config=EvaluateSettings,
    accepts_frozen=True,
    needs_adapter=False,  # reads the model's outputs only: any encoder that loads can be measured
    phrase="evaluate",
)
def evaluate(state, cfg: EvaluateSettings, ctx):
    kind = task_kind(ctx.task)
    if has_accuracy(kind):
        loader = ctx.task.loader(cfg.split, 64, limit=cfg.max_samples)
        result = evaluate_accuracy(state.model, loader, check=ctx.check)
        ctx.metric(f"{cfg.split}/accuracy", result["accuracy"])
        ctx.log(f"{cfg.split} accuracy {result['accuracy']:.4f} on {result['samples']} sentences")
    else:
        _task_figures(state.model, cfg, ctx, kind)
    ctx.metric("model/nonzero_parameters", count_parameters(state.model, nonzero=True))  # model/parameters: all
    return state


def _task_figures(model, cfg: EvaluateSettings, ctx, kind) -> None:
    """The task's figures (``core.engine.task_metrics``, where the build has them) and its loss."""
    try:
        from core.engine.task_metrics import evaluate_task
    except ImportError:  # a build whose evaluation knows sentence classification only: the task's loss
        evaluate_task = None
    if evaluate_task is not None and getattr(ctx.task, "raw", None) is not None:
        measured = evaluate_task(model, ctx.task, cfg.split, 64, ctx.recipe.data, limit=cfg.max_samples,
                                 check=ctx.check)
        figures, loss, n = measured.figures, measured.loss, measured.evaluated
    else:
        result = evaluate_loss(model, ctx.task.loader(cfg.split, 64, limit=cfg.max_samples), ctx.check)
        figures, loss, n = {}, result["loss"], result["samples"]
    for key, value in figures.items():
        ctx.metric(f"{cfg.split}/{key}", value)
    ctx.metric(f"{cfg.split}/loss", loss)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in figures.items())
    ctx.log(f"{cfg.split} ({kind.value}): {shown + ', ' if shown else ''}loss {loss:.4f} on {n} examples")
