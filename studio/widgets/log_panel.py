"""The run log: engine log messages and run outcomes, newest at the bottom."""

from __future__ import annotations

import time

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

    def append_line(self, text: str, level: str = "info", when: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(when or time.time()))
        prefix = "" if level == "info" else f"{level.upper()}: "
        bar = self.verticalScrollBar()
        following = bar.value() >= bar.maximum() - 4  # at the bottom (or nearly): keep following the new lines
        self.appendPlainText(f"{stamp}  {prefix}{text}")
        if following:
            bar.setValue(bar.maximum())

    def on_log(self, event) -> None:
        self.append_line(event.message, event.level, event.time)
