"""What a method handler sees of the run: data, device, teacher, events, cancellation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core import events as ev
from core.engine.control import RunControl


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
        self.task = task
        self.step_index = -1
        self.global_step = 0
        self.baseline = None  # ModelState: the uncompressed reference (teacher once fine-tuned)
        self.baseline_steps: int | None = None  # the baseline is the model after this many steps (None: the original)
        self.original = None  # ModelState as loaded, before any step
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
        self.control.check()

    @property
    def teacher(self):
        """The model to distil from: the fine-tuned baseline (or the original)."""
        return self.baseline or self.original

    def step_dir(self) -> Path:
        path = self.workdir / f"step-{self.step_index + 1:02d}"
        path.mkdir(parents=True, exist_ok=True)
        return path
