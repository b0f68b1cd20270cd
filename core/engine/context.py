"""What a method handler sees of the run: data, device, teacher, events, cancellation.

The run's references stay what they were: the model as loaded (:attr:`RunContext.original`), the
baseline every "vs baseline" figure is measured against (:attr:`RunContext.baseline`) and the data
each of them reads are set by the engine and read-only to handlers. A step that changes the data
(vocabulary pruning re-tokenizes it) declares a :class:`DataTransition` with
:meth:`RunContext.change_data`; the engine performs it after the step: later steps read the new
data (:attr:`RunContext.task`) and distil from :attr:`RunContext.teacher`, the reference made to
read it, while the baseline keeps its own model and data for measuring it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from core import events as ev
from core.engine.control import RunControl


@dataclass(frozen=True)
class DataTransition:
    """A step's declaration that the run's data changes from the end of the step on.

    ``task``: the data later steps and the final model read. ``teacher``: makes the teacher for the
    new data from the teacher for the old (vocabulary pruning slices its embedding rows alike); it
    must not change the model it is given. ``figures``: what changed, the step's own before and
    after (vocabulary rows, parameters, unknown tokens, accuracy), kept in the step's summary and
    the run's results. ``reason``: one line for the run's log.
    """

    task: Any
    teacher: Callable[[Any], Any]
    figures: Mapping[str, float] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class Reference:
    """A model the run measures or distils against, with the data it reads."""

    state: Any  # ModelState
    task: Any  # TaskData
    steps: int | None = None  # the model after this many steps (None: as loaded)


class RunContext:
    """Passed to every method handler as ``ctx``.

    Handlers report through :meth:`progress`, :meth:`metric`, :meth:`mask`,
    :meth:`importance` and :meth:`log`, and call :meth:`check` between batches so that pause and
    cancel take effect promptly. Progress is throttled here, where it is made.
    """

    PROGRESS_INTERVAL = 0.2  # seconds between progress events

    def __init__(self, run_id: str, recipe, bus: ev.EventBus, control: RunControl, device, workdir: Path, task=None):
        self.run_id = run_id
        self.recipe = recipe
        self.bus = bus
        self.control = control
        self.device = device
        self.workdir = Path(workdir)
        self.step_index = -1
        self.global_step = 0
        self._task = task  # the data the current model reads
        self._original: Reference | None = None  # the model as loaded, before any step
        self._baseline: Reference | None = None  # the uncompressed reference (the teacher once fine-tuned)
        self._teacher = None  # the teacher made to read the current data, after a data transition
        self._pending: DataTransition | None = None
        self._changes: list[dict] = []  # what each performed transition changed
        self.adapter = None  # the architecture adapter of the model the current step started from (set before it runs)
        self._last_progress = 0.0

    # -- reporting -----------------------------------------------------
    def emit(self, event_cls: type, **fields: Any) -> None:
        self.bus.publish(event_cls(run_id=self.run_id, **fields))

    def progress(self, current: int, total: int, message: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if force or current >= total or now - self._last_progress >= self.PROGRESS_INTERVAL:
            self._last_progress = now
            self.emit(ev.Progress, index=self.step_index, current=current, total=total, message=message)

    def metric(self, key: str, value: float, step: int | None = None) -> None:
        self.emit(ev.Metric, key=key, value=float(value), step=self.global_step if step is None else step, index=self.step_index)

    def mask(self, kind: str, mask) -> None:
        """Report which structures of ``kind`` a step keeps (1) and removes (0), one row per layer."""
        rows = tuple(tuple(float(v) for v in row) for row in mask)
        self.emit(ev.MaskUpdate, index=self.step_index, kind=kind, mask=rows)

    def importance(self, kind: str, scores, metric: str, scale: str = "raw scores",
                   levels: tuple[float, float] | None = None) -> None:
        """Report importance scores of the structures of ``kind`` (one row per layer), scaled as ``scale`` says
        into ``levels`` (see :class:`~core.events.ImportanceUpdate`)."""
        rows = tuple(tuple(float(v) for v in row) for row in scores)
        span = None if levels is None else (float(levels[0]), float(levels[1]))
        self.emit(ev.ImportanceUpdate, index=self.step_index, kind=kind, scores=rows, metric=metric, scale=scale,
                  levels=span)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(ev.LogMessage, level=level, message=message)

    # -- control -------------------------------------------------------
    def check(self) -> None:
        self.control.check(self.held)

    def held(self, paused: bool) -> None:
        """Say that a pause took hold (:class:`~core.events.RunPaused`) or let go (:class:`~core.events.RunResumed`)."""
        self.emit(ev.RunPaused if paused else ev.RunResumed, step=self.global_step)

    # -- the run's data and references (read-only to handlers) -------------------------------
    @property
    def task(self):
        """The data the current model reads (new after a step that changed it)."""
        return self._task

    @property
    def original(self):
        """The model as loaded, before any step (a ``ModelState``)."""
        return self._original.state if self._original else None

    @property
    def baseline(self):
        """The uncompressed reference every "vs baseline" figure is measured against (``None``: the original)."""
        return self._baseline.state if self._baseline else None

    @property
    def baseline_steps(self) -> int | None:
        """The baseline is the model after this many steps (``None``: no baseline yet, the original stands in)."""
        return self._baseline.steps if self._baseline else None

    @property
    def reference(self) -> Reference | None:
        """The baseline (or the original) with the data it reads: what the final figures compare against."""
        return self._baseline or self._original

    @property
    def baseline_task(self):
        """The data the baseline (or the original) reads: the run's data as it was when the baseline was made."""
        ref = self.reference
        return ref.task if ref else self._task

    @property
    def teacher(self):
        """The model to distil from, reading the current data: the fine-tuned baseline (or the original), made to
        read the data of every transition since."""
        if self._teacher is not None:
            return self._teacher
        return self.baseline or self.original

    def change_data(self, transition: DataTransition) -> None:
        """Declare that the data changes from the end of this step on; the engine performs it (:meth:`settle`)."""
        if self._pending is not None:
            raise RuntimeError("a step may change the run's data once")
        self._pending = transition

    # -- the engine's side --------------------------------------------------------------------
    def load_data(self, task) -> None:
        """The run's data as loaded; set once, before any step."""
        if self._task is not None and self._task is not task:
            raise RuntimeError("the run's data is already loaded")
        self._task = task

    def set_original(self, state) -> None:
        """The model as loaded (a private copy, never changed); set once."""
        if self._original is not None:
            raise RuntimeError("the run's original model is already set")
        self._original = Reference(state, self._task)

    def set_baseline(self, state, steps: int | None) -> None:
        """Make ``state`` (a private copy) the baseline: the model after ``steps`` steps, reading the current data."""
        self._baseline = Reference(state, self._task, steps) if state is not None else None
        self._teacher = None  # the baseline reads the current data itself

    @property
    def data_changes(self) -> tuple[dict, ...]:
        """What each data transition so far changed: ``step`` (0-based), ``method``, ``reason`` and its figures."""
        return tuple(dict(c) for c in self._changes)

    def settle(self, method: str = "") -> dict | None:
        """Perform the data transition the step just ended (``method``) declared, if any, and return its record.

        Later steps read the new data and distil from a teacher made to read it; the baseline and the
        original keep their own models and data.
        """
        transition, self._pending = self._pending, None
        if transition is None:
            return None
        teacher = self.teacher
        self._teacher = transition.teacher(teacher) if teacher is not None else None
        self._task = transition.task
        record = {"step": self.step_index, "method": method, "reason": transition.reason, **transition.figures}
        self._changes.append(record)
        return dict(record)

    def step_dir(self) -> Path:
        path = self.workdir / f"step-{self.step_index + 1:02d}"
        path.mkdir(parents=True, exist_ok=True)
        return path
