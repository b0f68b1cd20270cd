"""Reweighted Proximal Pruning (Guo et al. 2019, "Reweighted Proximal Pruning for Large-Scale Language
Representation").

Fine-tuning runs the ordinary AdamW step on the task loss alone (the penalty never enters the gradient);
after every optimiser step each prunable weight takes the proximal step of a *reweighted* L1 penalty,

    w <- sign(w) * max(|w| - lr_t * penalty * alpha, 0),   alpha = 1 / (|w| + eps),

with ``alpha`` recomputed from the current weights every ``reweight_every`` steps (reweighted L1,
Candès, Wakin & Boyd 2008): small weights shrink fast, large ones barely. ``lr_t`` is the learning rate
the optimiser step just used, from the training loop's own schedule (linear warm-up, then linear decay).
With ``alpha`` refreshed every step a weight goes to zero when ``|w| ≲ sqrt(2 * penalty * sum(lr_t))``.

At the end, the weights at zero (or at most ``threshold``) become masks, optionally topped up by
magnitude to ``target_sparsity``, and later training keeps them at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.engine.training import TrainSettings, train_model
from core.methods.pruning.magnitude import magnitude_masks, merge_masks
from core.methods.pruning.masks import apply_masks, prunable_weights, sparsity
from core.naming import pct
from core.registry import register_method, setting


@dataclass
class RPPSettings(TrainSettings):
    penalty: float = setting(0.01, "Strength λ of the reweighted L1 penalty: larger zeroes more weights "
                             "(about those below sqrt(2 λ Σ lr_t))", min=0.0, max=100.0, label="Penalty λ")
    eps: float = setting(1e-3, "ε in the reweighting α = 1 / (|w| + ε): bounds the shrink of weights near zero",
                         min=1e-8, max=1.0)
    reweight_every: int = setting(1, "Recompute the weights α from the current weights every N steps",
                                  min=1, max=100000)
    threshold: float = setting(0.0, "At the end, weights of at most this magnitude count as pruned too",
                               min=0.0, max=0.1)
    target_sparsity: float | None = setting(None, "Top up by magnitude to this sparsity at the end, when the "
                                            "penalty zeroed fewer (empty: keep what the penalty zeroed)",
                                            min=0.0, max=0.99, optional=True)
    include_embeddings: bool = setting(False, "Also prune the word-embedding matrix")

    def validate(self):
        if self.penalty == 0 and not self.target_sparsity and self.threshold == 0:
            return [("penalty", "is 0 with no target_sparsity and no threshold: the step would prune nothing; "
                                "set a penalty above 0 or a target_sparsity")]
        return []


def scheduled_lr(cfg: TrainSettings, step: int, total: int) -> float:
    """The learning rate optimiser step ``step`` (1-based, of ``total``) used in :func:`train_model`.

    The loop steps ``get_linear_schedule_with_warmup(optimizer, int(warmup_ratio * total), total)``
    after each optimiser step, so step ``step`` ran at the schedule's value for ``step - 1``.
    """
    warmup = int(cfg.warmup_ratio * total)
    s = step - 1
    if s < warmup:
        factor = s / max(1, warmup)
    else:
        factor = max(0.0, (total - s) / max(1, total - warmup))
    return cfg.learning_rate * factor


def reweight(weight: torch.Tensor, eps: float) -> torch.Tensor:
    """The reweighted-L1 weights ``alpha = 1 / (|w| + eps)``."""
    return 1.0 / (weight.detach().abs() + eps)


@torch.no_grad()
def proximal_step(weight: torch.Tensor, shrink: torch.Tensor | float) -> None:
    """In place: ``w <- sign(w) * max(|w| - shrink, 0)`` (the proximal operator of ``shrink * |w|``)."""
    weight.copy_(torch.sign(weight) * (weight.abs() - shrink).clamp_(min=0))


class _Proximal:
    """The ``after_step`` hook: the reweighted proximal step on every prunable weight."""

    def __init__(self, ctx, cfg: RPPSettings):
        self.ctx, self.cfg = ctx, cfg
        self.alpha: dict[str, torch.Tensor] = {}

    def __call__(self, model, step: int, total: int) -> None:
        weights = prunable_weights(model, self.cfg.include_embeddings)
        if not self.alpha or (step - 1) % self.cfg.reweight_every == 0:
            self.alpha = {name: reweight(w, self.cfg.eps) for name, w in weights.items()}
        scale = scheduled_lr(self.cfg, step, total) * self.cfg.penalty
        if scale > 0:
            for name, w in weights.items():
                proximal_step(w, scale * self.alpha[name])
        if step % self.cfg.reweight_every == 0 or step == total:
            self.ctx.metric("model/sparsity", sparsity(model, self.cfg.include_embeddings)["overall"])


def rpp_masks(weights: dict[str, torch.Tensor], cfg: RPPSettings) -> dict[str, torch.Tensor]:
    """Keep-masks: what the penalty left above ``threshold``, topped up by magnitude to ``target_sparsity``."""
    masks = {name: w.detach().abs() > cfg.threshold for name, w in weights.items()}
    if cfg.target_sparsity:
        total = sum(m.numel() for m in masks.values())
        zeros = sum(int((~m).sum()) for m in masks.values())
        if zeros < cfg.target_sparsity * total:
            masks = merge_masks(masks, magnitude_masks(weights, cfg.target_sparsity, "global"))
    return masks


@register_method(
    "prune.rpp",
    family="pruning",
    title="Reweighted proximal pruning (RPP)",
    description="Fine-tune with AdamW while, after every step, a reweighted-L1 proximal step shrinks the "
    "encoder's linear weights toward zero, small ones fastest (Guo et al. 2019); the weights it zeroes, "
    "optionally topped up by magnitude to a target sparsity, stay zero in later training. "
    "Unstructured: shrinks compressed size, not dense latency.",
    config=RPPSettings,
    trains=True,
    phrase=lambda s: "RPP" + (f" {pct(s.target_sparsity)}" if s.target_sparsity else ""),
)
def prune_rpp(state, cfg: RPPSettings, ctx):
    masks: dict = dict(state.masks or {})
    model = train_model(ctx, state.model, cfg, ctx.task, masks=masks, after_step=_Proximal(ctx, cfg))
    weights = prunable_weights(model, cfg.include_embeddings)
    penalised = sum(int((w.detach().abs() <= cfg.threshold).sum()) for w in weights.values())
    penalised /= max(1, sum(w.numel() for w in weights.values()))
    masks = merge_masks(masks, rpp_masks(weights, cfg))
    apply_masks(model, masks)
    report = sparsity(model, cfg.include_embeddings)
    ctx.metric("prune/rpp_sparsity", penalised)
    ctx.metric("model/sparsity", report["overall"])
    topped = f", topped up by magnitude to {report['overall']:.1%}" if report["overall"] > penalised + 1e-9 else ""
    ctx.log(f"reweighted proximal pruning: the penalty zeroed {penalised:.1%} of prunable weights{topped}")
    return state.replace(model=model, masks=masks)
