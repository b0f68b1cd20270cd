"""Attention-head pruning by gradient importance (Michel et al. 2019), with physical removal."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.family import report_cut
from core.methods.pruning.importance import head_gradient_importance, normalise_rows, task_batches
from core.methods.pruning.structured import recover, select_removals, stored_sensitivity, update_extras
from core.models.adapters.deberta import FUSED_HEADS
from core.models.architecture import count_parameters
from core.models.surgery import head_counts, keep_heads
from core.naming import pct
from core.registry import Refusal, register_method, setting


@dataclass
class HeadPruneSettings:
    amount: float = setting(0.5, "Share of all attention heads to remove", min=0.0, max=0.95)
    count: int | None = setting(None, "Number of heads to remove (overrides the share; empty: use the share)",
                                min=0, optional=True)
    rounds: int = setting(1, "Remove the heads over this many rounds, re-scoring in between (1: one-shot)", min=1, max=50)
    importance_source: str = setting("gradient", "Score heads by gradients on task data, or reuse an "
                                     "analyze.sensitivity step's scores", choices=("gradient", "sensitivity"))
    batches: int = setting(32, "Batches used to score the heads in each round", min=1, max=10000)
    batch_size: int = setting(32, "Sentences per scoring batch", min=1, max=4096)
    split: str = setting("train", "Data used to score the heads", choices=("train", "validation"))
    normalize: bool = setting(True, "Normalise scores within each layer before ranking globally (Michel et al.)")
    recovery_epochs: float = setting(0.0, "Fine-tuning between rounds (0: none; add a finetune step for the end)",
                                     min=0.0, max=100)
    recovery_learning_rate: float = setting(5e-5, "Learning rate of the recovery fine-tuning", min=1e-7, max=1.0)
    recovery_batch_size: int = setting(32, "Batch size of the recovery fine-tuning", min=1, max=4096)


def _scores(state, model, cfg: HeadPruneSettings, ctx) -> list[list[float]]:
    sens = stored_sensitivity(state)
    if cfg.importance_source == "sensitivity":
        rows = (sens or {}).get("heads")
        if rows and [len(r) for r in rows] == head_counts(model):
            return [list(map(float, r)) for r in rows]
        ctx.log("no head sensitivity matching this model in the stack (add analyze.sensitivity before); "
                "using gradient importance instead", "warning")
    batches = task_batches(ctx, model, cfg.split, cfg.batch_size, cfg.batches)
    return head_gradient_importance(model, batches)


# prune.movement's blocks refuse these families too (they are cut the same way).
HEADS_REFUSALS = (Refusal("deberta", FUSED_HEADS),)


@register_method(
    "prune.heads",
    family="pruning",
    title="Attention-head pruning",
    description="Score every attention head by the gradient of the loss with respect to a head gate "
    "(Michel et al. 2019) and physically remove the least important ones, one-shot or over several rounds. "
    "Layers may end with different head counts; each keeps at least one.",
    config=HeadPruneSettings,
    refuses=HEADS_REFUSALS,
    structural=True,
    phrase=lambda s: f"{s.count} heads" if s.count is not None else f"heads {pct(s.amount)}",
)
def prune_heads(state, cfg: HeadPruneSettings, ctx):
    model = state.model
    start_counts = head_counts(model)
    total = sum(start_counts)
    target = cfg.count if cfg.count is not None else int(round(cfg.amount * total))
    target = min(target, total - len(start_counts))
    # original index of every head still present, per layer: masks are reported against the starting layout
    alive = [list(range(n)) for n in start_counts]
    masks = state.masks
    before = count_parameters(model)
    removed = 0
    for r in range(cfg.rounds):
        want = int(round(target * (r + 1) / cfg.rounds)) - removed
        if want <= 0:
            continue
        ctx.progress(r, cfg.rounds, f"round {r + 1}/{cfg.rounds}: scoring heads", force=True)
        scores = _scores(state, model, cfg, ctx)
        if cfg.normalize:
            scores = normalise_rows(scores)
        keep = select_removals(scores, want)
        masks = keep_heads(model, keep, masks)
        state = update_extras(state, model, masks, heads=keep, ctx=ctx)
        masks = state.masks
        alive = [[alive[i][h] for h in keep[i]] for i in range(len(alive))]
        removed = total - sum(len(a) for a in alive)
        ctx.mask("heads", [[1.0 if h in set(a) else 0.0 for h in range(n)] for a, n in zip(alive, start_counts)])
        ctx.metric("model/heads", total - removed)
        ctx.log(f"round {r + 1}: {removed}/{total} heads removed; per layer {head_counts(model)}")
        if r < cfg.rounds - 1 and cfg.recovery_epochs > 0:
            model = recover(ctx, model, cfg.recovery_epochs, cfg.recovery_learning_rate, cfg.recovery_batch_size, masks)
            state = state.replace(model=model)
    if removed == 0:
        ctx.mask("heads", [[1.0] * n for n in start_counts])
    report_cut(ctx, model, before, "head pruning", f"{removed} of {total} heads removed, heads per layer "
               f"{head_counts(model)}")
    ctx.progress(cfg.rounds, cfg.rounds, "heads pruned", force=True)
    return state.replace(model=model)
