"""The run log: engine log messages and run outcomes, newest at the bottom."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPlainTextEdit, QWidget

MAX_LINES = 5000


class LogPanel(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)  # old lines drop off; a long run cannot grow memory forever
        self.setObjectName("logPanel")
        self.setPlaceholderText("Nothing has run yet. When a run starts, its steps, evaluations, warnings and "
                                "errors are written here, newest at the bottom.")
        # Whether the view follows new lines: decided by where the user left the scroll bar while the log was
        # visible (a hidden dock's scroll bar says nothing), and applied again when the log shows.
        self.following = True
        self._left_at = 0  # the scroll position when the log was hidden, for a user who had scrolled up

    def append_line(self, text: str, level: str = "info", when: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(when or time.time()))
        prefix = "" if level == "info" else f"{level.upper()}: "
        bar = self.verticalScrollBar()
        if self.isVisible():
            self.following = bar.value() >= bar.maximum() - 4  # at the bottom (or nearly): keep following
        self.appendPlainText(f"{stamp}  {prefix}{text}")
        if self.following:
            bar.setValue(bar.maximum())

    def hideEvent(self, event) -> None:
        self._left_at = self.verticalScrollBar().value()
        super().hideEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        # Lines written while hidden: a follower comes back to the newest, a reader to where they left off
        # (Qt itself would jump to the end on show).
        self._place()
        QTimer.singleShot(0, self._place)

    def _place(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum() if self.following else self._left_at)

    def on_log(self, event) -> None:
        self.append_line(event.message, event.level, event.time)
