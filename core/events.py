"""Typed, immutable events and the bus that delivers them.

One hierarchy under :class:`BaseEvent`: the engine's run events (:class:`Event`, keyed by ``run_id``) and a
study's events (:class:`StudyEvent`, keyed by ``study_id``), so the one codec of
:mod:`core.engine.event_stream` carries both out of a worker process. The engine and the study runner
publish; the database recorder, the CLI progress bar and the studio subscribe. Subscribers register for an
event class (subclasses included) with an optional filter, as in glue's hub. Callbacks run on the publishing
thread: a GUI subscriber must hop to its own thread (``studio/bridge.py`` does).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BaseEvent:
    """Anything published on a bus; ``time`` is when it happened (seconds since the epoch)."""

    time: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class Event(BaseEvent):
    """An event of one run."""

    run_id: str


@dataclass(frozen=True)
class RunStarted(Event):
    recipe: dict
    device: str
    step_titles: tuple[str, ...]


@dataclass(frozen=True)
class StepStarted(Event):
    index: int
    method: str
    title: str


@dataclass(frozen=True)
class Progress(Event):
    """Progress inside the current step; ``total`` may be 0 when unknown."""

    index: int
    current: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class Metric(Event):
    """A scalar in a series, e.g. ``train/loss`` at global step ``step``."""

    key: str
    value: float
    step: int
    index: int = -1


@dataclass(frozen=True)
class MaskUpdate(Event):
    """A structured pruning mask: ``kind`` is ``heads``, ``ffn`` or ``layers``; one row per layer, 1 keeps, 0 removed.

    Only 0 and 1 (refused otherwise): scores that rank structures travel as :class:`ImportanceUpdate`.
    """

    index: int
    kind: str
    mask: tuple[tuple[float, ...], ...]

    def __post_init__(self) -> None:
        odd = next((v for row in self.mask for v in row if v not in (0.0, 1.0)), None)
        if odd is not None:
            raise ValueError(f"a {self.kind} mask holds only 0 (removed) and 1 (kept), not {odd!r}; "
                             "send scores as an ImportanceUpdate")


@dataclass(frozen=True)
class ImportanceUpdate(Event):
    """Importance scores of structures (``kind``: ``heads``, ``ffn`` or ``layers``), one row per layer; higher
    ranks as more important. Nothing is removed by them.

    ``metric`` names what was measured (``gradient``, ``accuracy_drop``); ``scale`` says in words how the scores
    were scaled, and ``levels`` is the range that scaling maps them into (``(0.0, 1.0)`` for the usual display
    scaling), so a view draws them without guessing.
    """

    index: int
    kind: str
    scores: tuple[tuple[float, ...], ...]
    metric: str
    scale: str = "raw scores"
    levels: tuple[float, float] | None = None  # None: unscaled, the view takes the scores' own range


@dataclass(frozen=True)
class Checkpoint(Event):
    index: int
    path: str
    kind: str = "model"


@dataclass(frozen=True)
class StepFinished(Event):
    index: int
    method: str
    summary: dict


@dataclass(frozen=True)
class LogMessage(Event):
    level: str
    message: str


@dataclass(frozen=True)
class RunFinished(Event):
    """The run ended normally; ``results`` maps figure names to numbers."""

    results: dict


@dataclass(frozen=True)
class RunFailed(Event):
    error: str
    details: str = ""


@dataclass(frozen=True)
class RunCancelled(Event):
    reason: str = "cancelled by the user"


@dataclass(frozen=True)
class RunPaused(Event):
    """A pause took hold: the run stopped between two batches (after ``step`` training steps) and holds there.

    The acknowledgement of :meth:`~core.engine.control.RunControl.pause`: nothing of the run moves between this
    event and :class:`RunResumed` (or the run's cancellation); a client waits for it rather than for time.
    """

    step: int


@dataclass(frozen=True)
class RunResumed(Event):
    """The run goes on after a :class:`RunPaused`."""

    step: int


TERMINAL_EVENTS = (RunFinished, RunFailed, RunCancelled)


# -- a study's events (core.study.runner publishes them beside its trials' run events) ------------------
@dataclass(frozen=True)
class StudyEvent(BaseEvent):
    """An event of one study; its trials' own run events are :class:`Event` (they carry the trial's ``run_id``)."""

    study_id: str


@dataclass(frozen=True)
class StudyStarted(StudyEvent):
    """A worker joined the study; ``planned`` is the number of trial slots (None: until a deadline)."""

    name: str
    kind: str
    planned: int | None
    worker: str


@dataclass(frozen=True)
class TrialStarted(StudyEvent):
    number: int
    label: str
    run_id: str | None  # None for a trial that cannot run (it is 'skipped' at once)
    params: dict


@dataclass(frozen=True)
class TrialFinished(StudyEvent):
    number: int
    label: str
    run_id: str | None
    status: str  # finished | pruned | failed | cancelled | skipped | interrupted (its worker died or went silent)
    value: float  # the study's score (NaN: none)
    figures: dict
    note: str = ""


@dataclass(frozen=True)
class StudyEnded(StudyEvent):
    """This worker left the study; ``status`` is the study's status at that moment."""

    status: str
    worker: str
    trials_run: int


@dataclass(frozen=True)
class StudyWorkerFailed(StudyEvent):
    """A worker process ended without leaving the study (killed, crashed, an exception): said like a
    :class:`RunFailed`, with its exit code; its running trials were marked interrupted (their
    :class:`TrialFinished` come before this)."""

    worker: str
    error: str
    details: str = ""

Callback = Callable[[Any], None]


class EventBus:
    """Delivers each published event to the subscribers of its class (or a base class)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: list[tuple[type, Callback, Callable[[Any], bool] | None]] = []

    def subscribe(self, event_type: type, callback: Callback, filter: Callable[[Any], bool] | None = None) -> Callable[[], None]:
        entry = (event_type, callback, filter)
        with self._lock:
            self._subs.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subs:
                    self._subs.remove(entry)

        return unsubscribe

    def publish(self, event: BaseEvent) -> None:
        with self._lock:
            subs = list(self._subs)
        for event_type, callback, flt in subs:
            if isinstance(event, event_type) and (flt is None or flt(event)):
                try:
                    callback(event)
                except Exception:  # a faulty listener must not kill the run
                    log.exception("event subscriber %r failed on %r", callback, type(event).__name__)
