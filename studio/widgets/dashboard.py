"""The run dashboard: steps done / current / to do, progress, elapsed time, ETA and device."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QFormLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QStackedWidget,
                               QVBoxLayout, QWidget)

_DONE, _CURRENT, _TODO = "\u2714", "\u25b6", "\u25cb"
IDLE_HINT = ("No run yet. Press Run (Ctrl+R) to run the stack: its steps are listed here (done, current, to do) "
             "with the progress, the elapsed time and an estimate of what is left.")


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
        self.device = QLabel("\u2014")
        self.elapsed = QLabel("\u2014")
        self.eta = QLabel("\u2014")
        info = QFormLayout()
        info.addRow("Device", self.device)
        info.addRow("Elapsed", self.elapsed)
        info.addRow("Step ETA", self.eta)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addWidget(self.steps_area, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(info)
        self.titles: tuple[str, ...] = ()
        self.current = -1
        self.done_steps: set[int] = set()
        self._started: float | None = None
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
        self._started = self._step_started = time.monotonic()
        self._eta = None
        self.device.setText(event.device)
        self.status.setText("Preparing: loading model and data")
        self.steps_area.setCurrentWidget(self.steps)
        self._render_steps()
        self._clock.start()
        self._tick()

    def on_step_started(self, event) -> None:
        self.current = event.index
        self._step_started = time.monotonic()
        self._eta = None
        self.status.setText(f"Step {event.index + 1} of {len(self.titles)}: {event.title}")
        self._render_steps()

    def on_step_finished(self, event) -> None:
        self.done_steps.add(event.index)
        self._render_steps()

    def on_progress(self, event) -> None:
        total = max(event.total, 0)
        self.progress.setRange(0, total or 0)  # 0..0 shows a busy bar when the total is unknown
        self.progress.setValue(min(event.current, total) if total else 0)
        self.message.setText(event.message)
        if event.index >= len(self.titles) and self.titles:
            self.status.setText("Measuring the final model")
        if total and event.current > 0 and self._step_started is not None:
            spent = time.monotonic() - self._step_started
            self._eta = spent / event.current * (total - event.current)

    def on_run_ended(self, event, text: str) -> None:
        self._clock.stop()
        self._tick()
        self.status.setText(text)
        self.current = -1
        self._render_steps()
        self._eta = None
        self.eta.setText("\u2014")

    def set_paused(self, paused: bool) -> None:
        if paused:
            self.status.setText(self.status.text() + "  (paused)")
        else:
            self.status.setText(self.status.text().replace("  (paused)", ""))

    # -- internals -----------------------------------------------------
    def _render_steps(self) -> None:
        self.steps.clear()
        for i, title in enumerate(self.titles):
            mark = _DONE if i in self.done_steps else _CURRENT if i == self.current else _TODO
            item = QListWidgetItem(f"{mark}  {i + 1}. {title}")
            if i == self.current:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
                item.setBackground(QBrush(QColor("#dbeafe")))
            elif i in self.done_steps:
                item.setForeground(QBrush(QColor("#15803d")))
            self.steps.addItem(item)

    def _tick(self) -> None:
        if self._started is not None:
            self.elapsed.setText(format_seconds(time.monotonic() - self._started))
        self.eta.setText(format_seconds(self._eta))
