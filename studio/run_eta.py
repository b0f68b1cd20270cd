"""A rough estimate of the time left in the whole run: its training and its final measurement (no Qt).

Training dominates a run's steps, so their part is built from it: the
seconds per trained sentence measured in the step now training (or, until
then, in a recent run's own training, steps reused from the step cache left
out), times the sentences each later training step will see (its epochs times
the train split, or its ``max_steps`` times its batch size). Steps that do not
train count as taking no time. The final measurement (accuracy and latency of
the final model and the baseline, about a minute) is added as long as a recent
run's took. :meth:`RunEstimate.text` says which of the two the figure counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.engine.cache import REUSED_KEY  # in the summary of a step reused from the step cache


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


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunEstimate:
    """Fed the run's recipe at its start, each training progress and each step's end; :meth:`text` is the estimate.

    ``seconds_per_sample`` and ``measure_seconds`` may be given from a recent run (see :func:`measured_rate` and
    :func:`measurement_seconds`) so there is an estimate before the first training step reports.
    """

    def __init__(self, recipe: dict | None, seconds_per_sample: float | None = None,
                 measure_seconds: float | None = None):
        from core.recipe_diff import effective_recipe

        try:
            eff = effective_recipe(recipe or {})
        except Exception:  # a recipe this studio cannot read: no estimate rather than a wrong one
            eff = {"steps": [], "data": {}}
        self.steps = [_training(s.get("settings") or {}) for s in eff.get("steps", [])]
        self.train_samples: int | None = (eff.get("data") or {}).get("train_samples")
        self.seconds_per_sample = seconds_per_sample
        self.measure_seconds = measure_seconds
        self.measuring_since: float | None = None  # when the last step ended: the final measurement goes on
        self.cached: set[int] = set()  # steps reused from the step cache (they took no time)

    def observe(self, index: int, current: int, total: int, spent: float) -> None:
        """Step ``index`` has done ``current`` of ``total`` optimiser steps in ``spent`` seconds."""
        shape = self.steps[index] if 0 <= index < len(self.steps) else None
        if shape is None or current <= 0 or total <= 0 or spent <= 0:
            return
        self.seconds_per_sample = spent / (current * shape.batch_size)
        if shape.max_steps is None or total < shape.max_steps:  # the epochs set the total: learn the split's size
            if shape.epochs > 0 and self.train_samples is None:
                self.train_samples = int(total * shape.batch_size / shape.epochs)

    def step_finished(self, index: int, summary: dict | None, now: float) -> None:
        """Step ``index`` ended at ``now`` (a monotonic clock); after the last one the final measurement starts."""
        if (summary or {}).get(REUSED_KEY):
            self.cached.add(index)
        if index == len(self.steps) - 1:
            self.measuring_since = now

    def text(self, current: int, step_left: float | None, between_steps: bool, now: float) -> str:
        """What the Run ETA shows: ``≈ 1:20 (training + measuring)``, ``≈ 0:40 (training only)``,
        ``≈ 0:30 (measuring)``, or a dash while nothing is known."""
        if self.measuring_since is not None:
            if self.measure_seconds is None:
                return "measuring (time not known yet)"
            left = self.measure_seconds - (now - self.measuring_since)
            return f"\u2248 {_clock(left)} (measuring)" if left >= 1 else "measuring (longer than last time)"
        training = self.remaining(current, 0.0 if between_steps else step_left)
        if training is None:
            return "\u2014"
        if self.measure_seconds is None:
            return f"\u2248 {_clock(training)} (training only)"
        return f"\u2248 {_clock(training + self.measure_seconds)} (training + measuring)"

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
        """Seconds of training left: ``step_left`` of step ``current`` plus every later step; None while unknown."""
        later = range(max(current + 1, 0), len(self.steps))
        if self.seconds_per_sample is None:
            # Nothing trained yet: known only when nothing will (a stack of pruning and quantization steps).
            trains = any(self.steps[i] is not None for i in later) or (0 <= current < len(self.steps) and
                                                                       self.steps[current] is not None)
            return None if trains or current < 0 else 0.0
        total = step_left or 0.0
        for i in later:
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
    """Seconds per trained sentence in a recorded run (its finished training steps that were computed), or None.

    A step reused from the step cache took no time: counting it made the next estimate read "0:00".
    """
    estimate = RunEstimate(getattr(record, "recipe", None))
    spent = samples = 0.0
    for step in getattr(record, "steps", ()) or ():
        shape = estimate.steps[step.index] if 0 <= step.index < len(estimate.steps) else None
        if shape is None or step.status != "finished" or not step.started_at or not step.ended_at:
            continue
        if (getattr(step, "summary", None) or {}).get(REUSED_KEY):
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


def measurement_seconds(record) -> float | None:
    """How long a finished recorded run's final measurement took: from its last step's end to the run's end."""
    ends = [step.ended_at for step in getattr(record, "steps", ()) or ()]
    end = getattr(record, "ended_at", None)
    if not ends or end is None or any(e is None for e in ends) or getattr(record, "status", "") != "finished":
        return None
    seconds = (end - max(ends)).total_seconds()
    return seconds if seconds >= 0 else None
