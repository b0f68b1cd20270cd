"""An evaluation checkpoint inside the stack, so curves show accuracy between steps."""

from __future__ import annotations

from dataclasses import dataclass

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
    description="Measure accuracy and parameter count at this point of the stack.",
    config=EvaluateSettings,
    accepts_frozen=True,
    needs_adapter=False,  # reads the model's outputs only: any encoder that loads can be measured
    phrase="evaluate",
)
def evaluate(state, cfg: EvaluateSettings, ctx):
    loader = ctx.task.loader(cfg.split, 64, limit=cfg.max_samples)
    result = evaluate_accuracy(state.model, loader, check=ctx.check)
    ctx.metric(f"{cfg.split}/accuracy", result["accuracy"])
    ctx.metric("model/nonzero_parameters", count_parameters(state.model, nonzero=True))  # model/parameters: all
    ctx.log(f"{cfg.split} accuracy {result['accuracy']:.4f} on {result['samples']} sentences")
    return state
