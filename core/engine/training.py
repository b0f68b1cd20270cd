"""The one training loop every training method uses (fine-tuning, distillation, QAT, gradual pruning).

It goes through Hugging Face ``accelerate`` so that the same loop runs on CPU,
one GPU, or data-parallel under ``accelerate launch`` / ``torchrun``
(:mod:`core.engine.distributed`). Under N processes ``batch_size`` stays the
global batch: every process takes ``batch_size / N`` sentences of each batch
(accelerate's ``split_batches``) and DDP averages the gradients, so a recipe
takes the same steps on the same sentences on any number of processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from core.engine import distributed
from core.errors import StudioError
from core.metrics.accuracy import evaluate_accuracy
from core.models.masks import apply_masks
from core.registry import setting


@dataclass
class TrainSettings:
    """Optimiser and schedule settings shared by every training method."""

    epochs: float = setting(1.0, "Passes over the training split (fractions allowed)", min=0.01, max=100)
    learning_rate: float = setting(5e-5, "Peak AdamW learning rate", min=1e-7, max=1.0)
    batch_size: int = setting(32, "Sentences per optimiser step", min=1, max=4096)
    warmup_ratio: float = setting(0.06, "Share of steps with a linear warm-up", min=0.0, max=0.5)
    weight_decay: float = setting(0.01, "AdamW weight decay", min=0.0, max=1.0)
    max_steps: int | None = setting(None, "Stop after this many steps (empty: no limit)", min=1, optional=True)
    eval_every: int = setting(0, "Validate every N steps (0: at the end of each epoch)", min=0)
    eval_samples: int | None = setting(None, "Validation sentences per evaluation (empty: all)", min=1, optional=True)
    mixed_precision: str = setting("no", "Train in bf16 or fp16 autocast (fp16 needs a GPU; bf16 a GPU or CPU "
                                   "that supports it)", choices=("no", "bf16", "fp16"))


def total_steps(settings: TrainSettings, batches_per_epoch: int) -> int:
    steps = max(1, math.ceil(settings.epochs * batches_per_epoch))
    return min(steps, settings.max_steps) if settings.max_steps else steps


def train_model(
    ctx,
    model: torch.nn.Module,
    settings: TrainSettings,
    data,
    *,
    compute_loss: Callable[[torch.nn.Module, dict], torch.Tensor] | None = None,
    after_step: Callable[[torch.nn.Module, int, int], None] | None = None,
    before_step: Callable[[torch.nn.Module, int, int], None] | None = None,
    after_backward: Callable[[torch.nn.Module, int, int], None] | None = None,
    masks: dict[str, torch.Tensor] | None,
    prefix: str = "train",
) -> torch.nn.Module:
    """Train ``model`` on ``data``'s train split and validate on its validation split; returns the unwrapped model.

    ``data`` (a :class:`~core.data.task.TaskData`) is given, never read from ``ctx``: a step trains on the run's
    data (``ctx.task``) or on its own (task-agnostic distillation's unlabelled sentences) without changing the run's.

    ``compute_loss(model, batch)`` replaces the task loss (distillation);
    ``before_step`` / ``after_step(model, step, total)`` let pruning keep or
    update masks; ``after_backward(model, step, total)`` sees the gradients (averaged over
    processes, before the optimiser step) for scores such as movement pruning's; ``masks`` (``state.masks``, from unstructured pruning; required,
    with no default, so that no training method can forget them) are re-applied
    after every optimiser step so pruned weights stay zero. Reports ``{prefix}/loss``, ``{prefix}/lr`` and the
    validation metric (:func:`validation_metric`: ``val/accuracy``, or the task's headline figure).
    """
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration
    from transformers import get_linear_schedule_with_warmup

    processes = distributed.size()
    if settings.batch_size % processes:
        raise StudioError(f"batch_size {settings.batch_size} does not split over {processes} processes: "
                          f"use a multiple of {processes} (each process takes an equal share of every batch)")
    precision = getattr(settings, "mixed_precision", "no")
    if precision == "fp16" and ctx.device.type != "cuda":
        raise StudioError("mixed_precision fp16 needs a GPU; use bf16 on a CPU (or no)")
    _fresh_accelerator_state(ctx.device.type == "cpu", precision)
    accelerator = Accelerator(cpu=ctx.device.type == "cpu", mixed_precision=precision,
                              dataloader_config=DataLoaderConfiguration(split_batches=True))
    loader = data.loader("train", settings.batch_size, shuffle=True, seed=ctx.recipe.seed + max(ctx.step_index, 0))
    steps = total_steps(settings, len(loader))
    no_decay = ("bias", "LayerNorm.weight", "layernorm", "norm")
    groups = [
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and not any(k in n for k in no_decay)],
         "weight_decay": settings.weight_decay},
        {"params": [p for n, p in model.named_parameters() if p.requires_grad and any(k in n for k in no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=settings.learning_rate)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * steps), steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    eval_every = settings.eval_every or len(loader)
    model.train()
    step = 0
    running = 0.0
    seen = [0, 0]  # this process's batches and sentences
    try:
        while step < steps:
            for batch in loader:
                distributed.sync_check(ctx)  # every rank stops (or pauses) at the same step
                seen[0] += 1
                seen[1] += int(batch["input_ids"].shape[0])
                if before_step:
                    before_step(accelerator.unwrap_model(model), step, steps)
                loss = compute_loss(model, batch) if compute_loss else model(**batch).loss
                accelerator.backward(loss)
                if after_backward:
                    after_backward(accelerator.unwrap_model(model), step, steps)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                ctx.global_step += 1
                if masks:
                    apply_masks(accelerator.unwrap_model(model), masks)
                if after_step:
                    after_step(accelerator.unwrap_model(model), step, steps)
                value = float(accelerator.reduce(loss.detach(), "mean")) if processes > 1 else float(loss.detach())
                running = value if step == 1 else 0.9 * running + 0.1 * value
                ctx.metric(f"{prefix}/loss", value)
                ctx.progress(step, steps, f"step {step}/{steps}, loss {running:.4f}")
                if (step % eval_every == 0 or step == steps) and distributed.is_main():  # the others wait
                    validate(ctx, accelerator.unwrap_model(model), settings, data)
                    model.train()
                if step >= steps:
                    break
        if processes > 1:
            _report_shares(ctx, prefix, seen)
    finally:
        model = accelerator.unwrap_model(model)
        # Not accelerator.free_memory(): its full gc.collect() holds the GIL for
        # ~300 ms and stalls the studio's event loop; the local accelerator and
        # optimizer are released by reference counting when this returns.
    model.eval()
    return model


def _fresh_accelerator_state(cpu: bool, precision: str) -> None:
    """Let this run's device and precision differ from an earlier run's in the same process (a warm worker).

    accelerate keeps one configuration per process and refuses a different one; resetting its
    ``AcceleratorState`` (accelerate's own tests do) keeps the process group (``PartialState``).
    """
    from accelerate.state import AcceleratorState

    state = AcceleratorState._shared_state
    if state and (state.get("_mixed_precision") != precision or (cpu and state["device"].type != "cpu")):
        AcceleratorState._reset_state()


def _report_shares(ctx, prefix: str, seen: list[int]) -> None:
    """Record how many batches and sentences each process trained on (rank 0 records for all)."""
    shares = distributed.gather_objects(seen)
    for r, (batches, sentences) in enumerate(shares):
        ctx.metric(f"{prefix}/batches_rank{r}", batches)
        ctx.metric(f"{prefix}/sentences_rank{r}", sentences)
    ctx.log(f"{len(shares)} processes trained: " + ", ".join(
        f"rank {r} {b} batches / {n} sentences" for r, (b, n) in enumerate(shares)))


def validation_metric(data) -> str:
    """The key of the validation curve: ``val/accuracy`` for sequence classification, ``val/<headline>`` for the
    other task kinds (``val/entity_f1``, ``val/answer_f1``, ``val/pearson``, ``val/micro_f1``)."""
    from core.tasks.figures import HEADLINE
    from core.tasks.kinds import TaskKind

    kind = data if isinstance(data, (TaskKind, str)) else getattr(data, "kind", TaskKind.SEQUENCE_CLASSIFICATION)
    return f"val/{HEADLINE[TaskKind.parse(kind)]}"


def validate(ctx, model: torch.nn.Module, settings: TrainSettings, data) -> dict[str, float]:
    """Measure ``model`` on ``data``'s validation split: the task's headline figure as ``val/<headline>`` (its
    other figures too, under ``val/``) and ``val/loss``."""
    from core.tasks.kinds import TaskKind

    batch = max(64, settings.batch_size)
    if getattr(data, "kind", TaskKind.SEQUENCE_CLASSIFICATION) is TaskKind.SEQUENCE_CLASSIFICATION:
        loader = data.loader("validation", batch, limit=settings.eval_samples)
        result = evaluate_accuracy(model, loader, check=ctx.check)
        ctx.metric("val/accuracy", result["accuracy"])
        ctx.metric("val/loss", result["loss"])
        return result
    from core.engine.task_metrics import evaluate_task

    measured = evaluate_task(model, data, "validation", batch, ctx.recipe.data, limit=settings.eval_samples,
                             check=ctx.check)
    headline = validation_metric(data)
    ctx.metric(headline, measured.figures.get(headline.removeprefix("val/"), float("nan")))
    for key, value in measured.figures.items():
        if f"val/{key}" != headline:
            ctx.metric(f"val/{key}", value)
    ctx.metric("val/loss", measured.loss)
    return {**measured.figures, "loss": measured.loss, "samples": measured.evaluated}
