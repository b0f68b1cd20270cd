"""Gradual magnitude pruning during fine-tuning (Zhu & Gupta 2017, "To prune, or not to prune").

Sparsity follows ``s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (n * dt))^3``:
fast at first, while the network can still recover, then slower.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engine.training import TrainSettings, train_model
from core.methods.pruning.magnitude import magnitude_masks, merge_masks
from core.methods.pruning.masks import apply_masks, prunable_weights, sparsity
from core.naming import pct
from core.registry import register_method, setting


@dataclass
class GradualMagnitudeSettings(TrainSettings):
    initial_sparsity: float = setting(0.0, "Sparsity when pruning starts", min=0.0, max=0.99)
    final_sparsity: float = setting(0.8, "Sparsity reached at the end of the schedule", min=0.0, max=0.99)
    start_share: float = setting(0.0, "Share of the training steps before pruning starts", min=0.0, max=0.9)
    end_share: float = setting(0.7, "Share of the training steps by which the final sparsity is reached",
                               min=0.01, max=1.0)
    prune_every: int = setting(10, "Update the masks every N steps", min=1, max=100000)
    scope: str = setting("global", "Rank weights across all layers together, or within each layer",
                         choices=("global", "per_layer"))
    include_embeddings: bool = setting(False, "Also prune the word-embedding matrix")

    def validate(self):
        problems = []
        if self.final_sparsity < self.initial_sparsity:
            problems.append(("final_sparsity", f"must be at least initial_sparsity ({self.initial_sparsity})"))
        if self.end_share <= self.start_share:
            problems.append(("end_share", f"must be greater than start_share ({self.start_share})"))
        return problems


def cubic_sparsity(step: int, total: int, cfg: GradualMagnitudeSettings) -> float:
    """Target sparsity at ``step`` of ``total`` under the cubic schedule."""
    start = int(cfg.start_share * total)
    end = max(start + 1, int(round(cfg.end_share * total)))
    if step < start:
        return 0.0
    if step >= end:
        return cfg.final_sparsity
    progress = (step - start) / (end - start)
    return cfg.final_sparsity + (cfg.initial_sparsity - cfg.final_sparsity) * (1.0 - progress) ** 3


class _Schedule:
    """The ``before_step`` hook: recomputes the masks on schedule, in the dict the training loop re-applies."""

    def __init__(self, ctx, cfg: GradualMagnitudeSettings, masks: dict):
        self.ctx, self.cfg, self.masks = ctx, cfg, masks
        self.current = -1.0

    def update(self, model, target: float) -> None:
        weights = prunable_weights(model, self.cfg.include_embeddings)
        new = magnitude_masks(weights, target, self.cfg.scope)
        merged = merge_masks(self.masks, new)
        self.masks.clear()
        self.masks.update(merged)  # same dict object: train_model applies it after every optimiser step
        apply_masks(model, self.masks)
        self.current = target
        self.ctx.metric("model/sparsity", sparsity(model, self.cfg.include_embeddings)["overall"])
        self.ctx.metric("prune/target_sparsity", target)

    def __call__(self, model, step: int, total: int) -> None:
        target = cubic_sparsity(step, total, self.cfg)
        due = step % self.cfg.prune_every == 0 or target >= self.cfg.final_sparsity
        if target > 0 and target != self.current and due:
            self.update(model, target)


@register_method(
    "prune.gradual_magnitude",
    family="pruning",
    title="Gradual magnitude pruning",
    description="Fine-tune while zeroing ever more of the smallest weights along Zhu & Gupta's cubic schedule, "
    "from the initial to the final sparsity. Shrinks compressed size, not dense latency.",
    config=GradualMagnitudeSettings,
    trains=True,
    phrase=lambda s: f"gradual magnitude {pct(s.final_sparsity)}",
)
def gradual_magnitude(state, cfg: GradualMagnitudeSettings, ctx):
    masks: dict = dict(state.masks or {})
    schedule = _Schedule(ctx, cfg, masks)
    model = train_model(ctx, state.model, cfg, ctx.task, masks=masks, before_step=schedule)
    if schedule.current < cfg.final_sparsity and cfg.final_sparsity > 0:
        schedule.update(model, cfg.final_sparsity)  # a step cap may have cut the schedule short
    report = sparsity(model, cfg.include_embeddings)
    new = state.replace(model=model, masks=masks)
    per_layer = {name.removesuffix(".weight"): value for name, value in report.items() if name != "overall"}
    ctx.log(f"gradual magnitude pruning: {report['overall']:.1%} of prunable weights are zero")
    ctx.log("per-layer sparsity: " + ", ".join(f"{n}: {v:.1%}" for n, v in per_layer.items()))
    return new
