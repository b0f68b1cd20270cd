"""Plain, immutable records of the experiment database: what the rest of the code sees.

Rows (:mod:`core.db.schema`) stay inside ``core.db``; the repository converts them
to these dataclasses so callers can keep them after the session closes and pass
them between threads. Times are aware UTC datetimes; NaN stands for a figure
that could not be computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class MetricPoint:
    """One sample of a metric series: ``value`` at global training ``step``."""

    step: int
    value: float
    time: float  # seconds since the epoch, when the engine emitted it
    step_index: int = -1  # the recipe step that emitted it (-1: before the first step)


@dataclass(frozen=True)
class StepRecord:
    index: int
    method: str
    title: str
    status: str  # pending | running | finished | failed | cancelled | interrupted
    started_at: datetime | None
    ended_at: datetime | None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArtifactRecord:
    id: int
    kind: str  # e.g. "model" (a checkpoint), "export", "onnx"
    path: str
    meta: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class RunSummary:
    """A run as shown in a list (the CLI's and the studio's): identity, status, where it ran, its stack and figures."""

    id: str
    name: str
    status: str  # running | finished | failed | cancelled | interrupted
    started_at: datetime
    ended_at: datetime | None
    model_source: str
    data_source: str
    device: str
    error: str | None
    figures: dict[str, Any]  # the final results, e.g. {"accuracy": 0.81, "speedup": 2.3}
    # what the stack does, e.g. "fine-tune \u2192 heads 50 % \u2192 int8" (core.naming.stack_name of the recipe)
    stack: str = field(default="", kw_only=True)

    @property
    def short_id(self) -> str:
        """The 8-character id the CLI shows (accepted back as a prefix)."""
        return self.id[:8]

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or None while running."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()

    @property
    def size_bytes(self) -> float | None:
        """The final model's size as saved, when the run measured it."""
        value = self.figures.get("size_bytes")
        return None if value is None or value != value else float(value)


@dataclass(frozen=True)
class RunRecord(RunSummary):
    """Everything about one run except its metric series (see ``Repository.metric_series``)."""

    recipe: dict[str, Any]
    results: dict[str, float]
    steps: tuple[StepRecord, ...]
    artifacts: tuple[ArtifactRecord, ...]
    error_details: str | None


@dataclass(frozen=True)
class StudyTrialRecord:
    """One trial of a study: the claimed slot ``number``, what it tried, and the run it made."""

    number: int
    label: str
    params: dict[str, Any]
    run_id: str | None
    status: str  # running | finished | pruned | failed | cancelled | interrupted | skipped
    value: float  # the objective (NaN: none)
    note: str | None
    worker: str | None
    started_at: datetime
    ended_at: datetime | None
    optuna_trial: int | None = None
    heartbeat_at: datetime | None = None  # last sign of life from the worker running it


@dataclass(frozen=True)
class StudySummary:
    """A study as shown in a list."""

    id: str
    name: str
    kind: str  # order | grid | search
    status: str  # running | finished | cancelled | interrupted
    created_at: datetime
    ended_at: datetime | None
    max_trials: int | None
    deadline: datetime | None
    claimed: int  # trial slots taken so far, by every worker together

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass(frozen=True)
class StudyRecord(StudySummary):
    """A study with its spec (the study file as a mapping) and its trials in slot order."""

    spec: dict[str, Any] = field(default_factory=dict)
    trials: tuple[StudyTrialRecord, ...] = ()
