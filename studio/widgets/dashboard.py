"""The run dashboard: steps done / current / to do, progress, elapsed time, ETA and device; after a run, the
task's own figures (entity F1 and token accuracy, exact match and F1, Pearson, Spearman and MSE...)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QFormLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QStackedWidget,
                               QVBoxLayout, QWidget)

from core import events as ev
from studio.run_eta import RunEstimate

_DONE, _CURRENT, _TODO, _STOPPED = "\u2714", "\u25b6", "\u25cb", "\u2716"
IDLE_HINT = ("No run yet. Press Run (Ctrl+R) to run the stack: its steps are listed here (done, current, to do) "
             "with the progress, the elapsed time and an estimate of what is left.")


SEQUENCE = "sequence-classification"


def task_figures_text(results: dict, task: str | None) -> str:
    """One line per figure of ``task`` that ``results`` holds, with its interval, and the headline retained."""
    from core.metrics.figures import describe, label
    from core.metrics.task_figures import BY_TASK, HEADLINES

    task = task if task in BY_TASK else SEQUENCE
    keys = [f.key for f in BY_TASK[task]] + [f"{HEADLINES[task]}_retained"]
    return "\n".join(f"{label(key)}: {describe(results, key)}" for key in keys if key in results)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "\u2014"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Dashboard(QWidget):
    """Follows one run through the bridge's signals (connect the ``on_*`` slots)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.status = QLabel("Idle")
        self.status.setObjectName("runStatus")
        self.steps = QListWidget()
        # Until the first run the empty list would be a blank box: a hint stands in its place.
        self.hint = QLabel(IDLE_HINT)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.steps_area = QStackedWidget()
        self.steps_area.addWidget(self.hint)
        self.steps_area.addWidget(self.steps)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%p %")
        self.message = QLabel("")
        # Long texts ("Finished: accuracy ..., 2.1x faster ...") wrap instead of widening the dock past the screen.
        self.status.setWordWrap(True)
        self.message.setWordWrap(True)
        self.figures = QLabel("")  # the task's figures, after a run that finished
        self.figures.setObjectName("runFigures")
        self.figures.setWordWrap(True)
        self.figures.hide()
        self.task = SEQUENCE
        self.device = QLabel("\u2014")
        self.elapsed = QLabel("\u2014")
        self.eta = QLabel("\u2014")
        self.run_eta = QLabel("\u2014")
        self.run_eta.setToolTip("A rough estimate of the whole run: the training still to do at the speed seen so "
                                "far, and the final measurement as long as a recent run's; it says what it counts.")
        info = QFormLayout()
        info.addRow("Device", self.device)
        info.addRow("Elapsed", self.elapsed)
        info.addRow("Step ETA", self.eta)
        info.addRow("Run ETA", self.run_eta)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(self.steps_area, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.figures)
        layout.addLayout(info)
        self.titles: tuple[str, ...] = ()
        self.current = -1
        self.done_steps: set[int] = set()
        self.stopped: int | None = None  # the step a cancelled or failed run was in
        self.estimate = RunEstimate(None)
        self._started: float | None = None
        self._paused_at: float | None = None  # while paused the clocks stand still
        self._step_started: float | None = None
        self._eta: float | None = None
        self._clock = QTimer(self)
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._tick)

    # -- slots ---------------------------------------------------------
    def on_run_started(self, event) -> None:
        self.titles = tuple(event.step_titles)
        self.current = -1
        self.done_steps = set()
        self.stopped = None
        self.estimate = RunEstimate(getattr(event, "recipe", None))
        self.task = (getattr(event, "recipe", None) or {}).get("task") or SEQUENCE
        self.figures.clear()
        self.figures.hide()
        self._started = self._step_started = time.monotonic()
        self._paused_at = None
        self._eta = None
        self._reset_progress("loading model and data")
        self.device.setText(event.device)
        self.status.setText("Preparing: loading model and data")
        self.steps_area.setCurrentWidget(self.steps)
        self._render_steps()
        self._clock.start()
        self._tick()

    def on_step_started(self, event) -> None:
        self.current = event.index
        self._step_started = self._now()
        self._eta = None
        self._reset_progress("starting")  # not the last step's "100 % ready"
        self.status.setText(f"Step {event.index + 1} of {len(self.titles)}: {event.title}")
        self._render_steps()

    def on_step_finished(self, event) -> None:
        self.done_steps.add(event.index)
        self.estimate.step_finished(event.index, event.summary, self._now())  # a cached step; the measurement starts
        self._eta = None  # the finished step's estimate is no one's
        self._render_steps()

    def on_progress(self, event) -> None:
        total = max(event.total, 0)
        self.progress.setRange(0, total or 0)  # 0..0 shows a busy bar when the total is unknown
        self.progress.setValue(min(event.current, total) if total else 0)
        self.message.setText(event.message)
        if event.index >= len(self.titles) and self.titles:
            self.status.setText("Measuring the final model")
        if total and event.current > 0 and self._step_started is not None and 0 <= event.index < len(self.titles):
            spent = self._now() - self._step_started
            self._eta = spent / event.current * (total - event.current)
            self.estimate.observe(event.index, event.current, total, spent)

    def on_run_ended(self, event, text: str) -> None:
        """The run ended: the progress bar says how, and a cancelled or failed run marks the step it was in."""
        self._clock.stop()
        self._paused_at = None
        self._tick()
        self.status.setText(text)
        if isinstance(event, ev.RunFinished):
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.message.setText("done")
            text = task_figures_text(event.results, self.task)
            self.figures.setText(text)
            self.figures.setVisible(bool(text))
        else:
            how = "failed" if isinstance(event, ev.RunFailed) else "cancelled"
            if 0 <= self.current < len(self.titles) and self.current not in self.done_steps:
                self.stopped = self.current
                where = f"during step {self.current + 1}"
            elif self.done_steps:
                where = "after the last step finished, while the final model was measured"
            else:
                where = "while loading the model and data"
            self._reset_progress(f"{how} {where}")
        self.current = -1
        self._render_steps()
        self._eta = None
        self.eta.setText("\u2014")
        self.run_eta.setText("\u2014")

    def set_paused(self, paused: bool) -> None:
        if paused:
            if self._paused_at is None:
                self._paused_at = time.monotonic()
            self.status.setText(self.status.text() + "  (paused)")
        else:
            if self._paused_at is not None:  # shift the clocks past the pause
                gap = time.monotonic() - self._paused_at
                self._started = None if self._started is None else self._started + gap
                self._step_started = None if self._step_started is None else self._step_started + gap
                self._paused_at = None
            self.status.setText(self.status.text().replace("  (paused)", ""))
        self._tick()

    # -- internals -----------------------------------------------------
    def _render_steps(self) -> None:
        self.steps.clear()
        for i, title in enumerate(self.titles):
            mark = (_DONE if i in self.done_steps else _CURRENT if i == self.current else
                    _STOPPED if i == self.stopped else _TODO)
            item = QListWidgetItem(f"{mark}  {i + 1}. {title}")
            if i == self.stopped:
                item.setToolTip("The run stopped during this step.")
            if i == self.current:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
                item.setBackground(QBrush(QColor("#dbeafe")))
            elif i in self.done_steps:
                item.setForeground(QBrush(QColor("#15803d")))
            elif i == self.stopped:
                item.setForeground(QBrush(QColor("#b91c1c")))
            self.steps.addItem(item)

    def _now(self) -> float:
        return self._paused_at if self._paused_at is not None else time.monotonic()

    def _reset_progress(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.message.setText(message)

    def _tick(self) -> None:
        if self._started is not None:
            self.elapsed.setText(format_seconds(self._now() - self._started))
        self.eta.setText(format_seconds(self._eta))
        if self._clock.isActive():
            between = self.current in self.done_steps
            self.run_eta.setText(self.estimate.text(self.current, self._eta, between, self._now()))
