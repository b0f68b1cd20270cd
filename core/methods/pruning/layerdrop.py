"""LayerDrop fine-tuning (Fan et al. 2019): structured dropout of whole layers, so a later cut costs little."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from core.engine.training import TrainSettings, train_model
from core.models.adapters import adapter_for
from core.models.adapters.albert import SHARED_LAYERS
from core.registry import Refusal, register_method, setting


@dataclass
class LayerDropSettings(TrainSettings):
    rate: float = setting(0.2, "Probability of skipping each layer in a training step", min=0.0, max=0.9)
    min_layers: int = setting(1, "Layers each step keeps at least", min=1)


class _LayerDropper:
    """Before each step, swaps the encoder's layer list for a random subset; after it, restores the full list.

    Skipping a layer outright (rather than zeroing its output) saves its compute,
    and its parameters simply get no gradient that step.
    """

    def __init__(self, model: nn.Module, rate: float, min_layers: int, seed: int):
        self.model = model
        self.adapter = adapter_for(model)
        self.full = nn.ModuleList(self.adapter.layers(model))
        self.rate = rate
        self.min_layers = min(min_layers, len(self.full))
        self.generator = torch.Generator().manual_seed(seed)
        self.dropped = 0
        self.steps = 0

    def before_step(self, model, step, total) -> None:
        n = len(self.full)
        keep = torch.rand(n, generator=self.generator) >= self.rate
        if int(keep.sum()) < self.min_layers:
            extra = torch.randperm(n, generator=self.generator)
            for i in extra.tolist():
                keep[i] = True
                if int(keep.sum()) >= self.min_layers:
                    break
        self.dropped += n - int(keep.sum())
        self.steps += 1
        self.adapter.set_layers(self.model, [layer for layer, k in zip(self.full, keep.tolist()) if k])

    def restore(self, *_args) -> None:
        self.adapter.set_layers(self.model, self.full)


@register_method(
    "train.layerdrop",
    family="training",
    title="LayerDrop fine-tuning",
    description="Fine-tune while skipping each layer at random with probability p, so that the model learns "
    "to work without any single layer and a later prune.layers step costs little accuracy.",
    config=LayerDropSettings,
    trains=True,
    refuses=[Refusal("albert", SHARED_LAYERS)],
    phrase="LayerDrop",
)
def layerdrop(state, cfg: LayerDropSettings, ctx):
    dropper = _LayerDropper(state.model, cfg.rate, cfg.min_layers, ctx.recipe.seed + max(ctx.step_index, 0))
    try:
        model = train_model(ctx, state.model, cfg, ctx.task, masks=state.masks,
                            before_step=dropper.before_step, after_step=dropper.restore)
    finally:
        dropper.restore()
    if dropper.steps:
        ctx.log(f"LayerDrop: {dropper.dropped / dropper.steps:.2f} layers skipped per step on average "
                f"(of {len(dropper.full)})")
    return state.replace(model=model)
