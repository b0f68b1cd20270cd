"""Unstructured magnitude pruning: zero the smallest weights, globally or per layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.methods.pruning.masks import apply_masks, prunable_weights, sparsity
from core.naming import pct
from core.registry import register_method, setting


@dataclass
class MagnitudePruneSettings:
    sparsity: float = setting(0.5, "Share of weights set to zero", min=0.0, max=0.99)
    scope: str = setting("global", "Rank weights across all layers together, or within each layer", choices=("global", "per_layer"))
    include_embeddings: bool = setting(False, "Also prune the word-embedding matrix")


def magnitude_masks(weights: dict[str, torch.Tensor], amount: float, scope: str) -> dict[str, torch.Tensor]:
    """Boolean keep-masks that drop the ``amount`` smallest-magnitude entries."""
    if amount <= 0:
        return {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    if scope == "per_layer":
        out = {}
        for name, w in weights.items():
            k = int(amount * w.numel())
            if k == 0:
                out[name] = torch.ones_like(w, dtype=torch.bool)
                continue
            threshold = w.detach().abs().flatten().kthvalue(k).values
            out[name] = w.detach().abs() > threshold
        return out
    flat = torch.cat([w.detach().abs().flatten().cpu() for w in weights.values()])
    k = int(amount * flat.numel())
    if k == 0:
        return {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    threshold = flat.kthvalue(k).values.to(next(iter(weights.values())).device)
    return {name: w.detach().abs() > threshold for name, w in weights.items()}


def merge_masks(old: dict | None, new: dict) -> dict:
    """A weight pruned earlier stays pruned."""
    merged = dict(old or {})
    for name, mask in new.items():
        prev = merged.get(name)
        merged[name] = mask if prev is None or prev.shape != mask.shape else (mask & prev.to(mask.device))
    return merged


@register_method(
    "prune.magnitude",
    family="pruning",
    title="Magnitude pruning (one-shot)",
    description="Set the smallest-magnitude weights of the encoder's linear layers to zero; "
    "later training steps keep them at zero. Shrinks compressed size, not dense latency.",
    config=MagnitudePruneSettings,
    phrase=lambda s: f"magnitude {pct(s.sparsity)}",
)
def prune_magnitude(state, cfg: MagnitudePruneSettings, ctx):
    weights = prunable_weights(state.model, cfg.include_embeddings)
    masks = merge_masks(state.masks, magnitude_masks(weights, cfg.sparsity, cfg.scope))
    apply_masks(state.model, masks)
    new = state.replace(masks=masks)
    report = sparsity(state.model, cfg.include_embeddings)
    ctx.metric("model/sparsity", report["overall"])
    ctx.log(f"magnitude pruning: {report['overall']:.1%} of prunable weights are zero")
    return new
