"""Fine-tuning on the task: how the baseline teacher is made, and how compressed models recover."""

from __future__ import annotations

from dataclasses import dataclass

from core.engine.training import TrainSettings, train_model
from core.registry import register_method


@dataclass
class FineTuneSettings(TrainSettings):
    """Fine-tuning uses the shared optimiser settings as they are."""


@register_method(
    "finetune",
    family="training",
    title="Fine-tune",
    description="Train the whole model on the labelled task (AdamW, linear decay). "
    "Before any compression step this makes the baseline teacher; after one it recovers accuracy.",
    config=FineTuneSettings,
    trains=True,
    phrase="fine-tune",
    needs_adapter=False,  # trains the model as it is: a BiLSTM or CNN student too
)
def finetune(state, cfg: FineTuneSettings, ctx):
    model = train_model(ctx, state.model, cfg, ctx.task, masks=state.masks)
    return state.replace(model=model)
