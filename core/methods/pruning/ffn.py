"""FFN neuron pruning: remove the least important intermediate neurons of each layer physically."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.family import report_cut
from core.methods.pruning.importance import (ffn_magnitude_importance, ffn_taylor_importance, normalise_rows,
                                             task_batches)
from core.methods.pruning.structured import select_per_layer, select_removals, update_extras
from core.models.architecture import count_parameters
from core.models.surgery import ffn_widths, keep_ffn
from core.naming import pct
from core.registry import Refusal, register_method, setting


@dataclass
class FFNPruneSettings:
    amount: float = setting(0.5, "Share of the intermediate (FFN) neurons to remove", min=0.0, max=0.95)
    scope: str = setting("per_layer", "Remove the same share in every layer, or rank neurons across layers "
                         "(sizes may then differ)", choices=("per_layer", "global"))
    importance: str = setting("taylor", "Score neurons by |activation x gradient| on task data (taylor) "
                              "or by weight norms (magnitude)", choices=("taylor", "magnitude"))
    batches: int = setting(16, "Batches used for the taylor scores", min=1, max=10000)
    batch_size: int = setting(32, "Sentences per scoring batch", min=1, max=4096)
    split: str = setting("train", "Data used for the taylor scores", choices=("train", "validation"))
    min_neurons: int = setting(1, "Neurons each layer keeps at least", min=1)


# prune.movement's blocks refuse these families too (they are cut the same way).
FFN_REFUSALS = (Refusal("mobilebert", "each MobileBERT layer stacks num_feedforward_networks FFNs between its "
                                      "bottlenecks; pruning one of them is not supported"),)


@register_method(
    "prune.ffn",
    family="pruning",
    title="FFN neuron pruning",
    description="Score every intermediate neuron (gradient x activation, or weight magnitude) and physically "
    "remove the least important ones from each layer's feed-forward block.",
    config=FFNPruneSettings,
    refuses=FFN_REFUSALS,
    structural=True,
    phrase=lambda s: f"FFN {pct(s.amount)}",
)
def prune_ffn(state, cfg: FFNPruneSettings, ctx):
    model = state.model
    widths = ffn_widths(model)
    ctx.progress(0, 2, "scoring FFN neurons", force=True)
    if cfg.importance == "taylor":
        scores = ffn_taylor_importance(model, task_batches(ctx, model, cfg.split, cfg.batch_size, cfg.batches))
    else:
        scores = ffn_magnitude_importance(model)
    if cfg.scope == "global":
        count = int(round(cfg.amount * sum(widths)))
        keep = select_removals(normalise_rows(scores), count, cfg.min_neurons)
    else:
        keep = select_per_layer(scores, cfg.amount, cfg.min_neurons)
    before = count_parameters(model)
    masks = keep_ffn(model, keep, state.masks)
    new = update_extras(state, model, masks, ctx=ctx)
    kept = [set(keep[i]) for i in range(len(widths))]
    ctx.mask("ffn", [[1.0 if n in kept[i] else 0.0 for n in range(w)] for i, w in enumerate(widths)])
    report_cut(ctx, model, before, "FFN pruning", f"widths {widths} -> {ffn_widths(model)}")
    ctx.progress(2, 2, "FFN pruned", force=True)
    return new
