"""The run queue as a list: what waits to run next, with a button to take items out before they start."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from studio.run_queue import RunQueue


class QueuePanel(QWidget):
    """Mirrors a :class:`RunQueue`; the first row is the next run to start."""

    def __init__(self, queue: RunQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.list = QListWidget()
        self.hint = QLabel("Nothing queued. While a run goes, Run \u25b8 Queue (Ctrl+Shift+R) adds the current "
                           "recipe here; queued runs start one after another.")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear")
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(self.remove_button)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(self.list, 1)
        layout.addLayout(bar)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(queue.clear)
        queue.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for n, item in enumerate(self.queue.items(), start=1):
            row = QListWidgetItem(f"{n}. {item.label}")
            row.setData(Qt.ItemDataRole.UserRole, item.key)
            self.list.addItem(row)
        empty = len(self.queue) == 0
        self.hint.setVisible(empty)
        self.remove_button.setEnabled(not empty)
        self.clear_button.setEnabled(not empty)

    def remove_selected(self) -> None:
        for row in self.list.selectedItems():
            self.queue.remove(row.data(Qt.ItemDataRole.UserRole))
