"""A rough estimate of the time left in the whole run, from the training seen so far (no Qt).

Training dominates a run's time, so the estimate is built from it: the
seconds per trained sentence measured in the step now training, times the
sentences each later training step will see (its epochs times the train
split, or its ``max_steps`` times its batch size). Steps that do not train
are counted as taking no time, so the figure is a floor, and it is only
given once a training step has reported progress.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class _Training:
    epochs: float
    batch_size: int
    max_steps: int | None


def _training(settings: dict[str, Any]) -> _Training | None:
    """The training shape of a step's effective settings, or None for a step that does not train."""
    try:
        epochs, batch = float(settings["epochs"]), int(settings.get("batch_size") or 32)
    except (KeyError, TypeError, ValueError):
        return None
    limit = settings.get("max_steps")
    return _Training(epochs, max(batch, 1), int(limit) if limit else None)


class RunEstimate:
    """Fed the run's recipe at its start and each training progress; ``remaining(...)`` is the estimate."""

    def __init__(self, recipe: dict | None):
        from core.recipe_diff import effective_recipe

        try:
            eff = effective_recipe(recipe or {})
        except Exception:  # a recipe this studio cannot read: no estimate rather than a wrong one
            eff = {"steps": [], "data": {}}
        self.steps = [_training(s.get("settings") or {}) for s in eff.get("steps", [])]
        self.train_samples: int | None = (eff.get("data") or {}).get("train_samples")
        self.seconds_per_sample: float | None = None

    def observe(self, index: int, current: int, total: int, spent: float) -> None:
        """Step ``index`` has done ``current`` of ``total`` optimiser steps in ``spent`` seconds."""
        shape = self.steps[index] if 0 <= index < len(self.steps) else None
        if shape is None or current <= 0 or total <= 0 or spent <= 0:
            return
        self.seconds_per_sample = spent / (current * shape.batch_size)
        if shape.max_steps is None or total < shape.max_steps:  # the epochs set the total: learn the split's size
            if shape.epochs > 0 and self.train_samples is None:
                self.train_samples = int(total * shape.batch_size / shape.epochs)

    def step_seconds(self, index: int) -> float | None:
        """Seconds a whole training step ``index`` takes at the rate seen; 0 for a step that does not train."""
        shape = self.steps[index] if 0 <= index < len(self.steps) else None
        if shape is None:
            return 0.0
        if self.seconds_per_sample is None:
            return None
        if self.train_samples is not None:
            batches = max(1, math.ceil(shape.epochs * self.train_samples / shape.batch_size))
            steps = min(batches, shape.max_steps) if shape.max_steps else batches
        elif shape.max_steps:
            steps = shape.max_steps
        else:
            return None
        return steps * shape.batch_size * self.seconds_per_sample

    def remaining(self, current: int, step_left: float | None) -> float | None:
        """Seconds left: ``step_left`` of step ``current`` plus every later step; None while unknown."""
        if self.seconds_per_sample is None:
            return None
        total = step_left or 0.0
        for i in range(max(current + 1, 0), len(self.steps)):
            later = self.step_seconds(i)
            if later is None:
                return None
            total += later
        return total


def _samples_trained(shape: _Training, train_samples: int | None) -> int | None:
    """Sentences a training step goes through, or None when the split's size is not known."""
    if train_samples:
        batches = max(1, math.ceil(shape.epochs * train_samples / shape.batch_size))
        return (min(batches, shape.max_steps) if shape.max_steps else batches) * shape.batch_size
    return shape.max_steps * shape.batch_size if shape.max_steps else None


def measured_rate(record) -> float | None:
    """Seconds per trained sentence in a recorded run (its finished training steps), or None."""
    estimate = RunEstimate(getattr(record, "recipe", None))
    spent = samples = 0.0
    for step in getattr(record, "steps", ()) or ():
        shape = estimate.steps[step.index] if 0 <= step.index < len(estimate.steps) else None
        if shape is None or step.status != "finished" or not step.started_at or not step.ended_at:
            continue
        n = _samples_trained(shape, estimate.train_samples)
        if n:
            spent += (step.ended_at - step.started_at).total_seconds()
            samples += n
    return spent / samples if samples and spent > 0 else None


def recipe_seconds(recipe: dict, rate: float) -> float | None:
    """Rough seconds of training ``recipe`` needs at ``rate`` seconds per sentence; None when not known."""
    estimate = RunEstimate(recipe)
    total = 0.0
    for shape in estimate.steps:
        if shape is None:
            continue
        n = _samples_trained(shape, estimate.train_samples)
        if n is None:
            return None
        total += n * rate
    return total
