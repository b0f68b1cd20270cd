"""The run queue as a list: what waits to run next; drag a row (or Up / Down) to change the order, Remove to take
a run out before it starts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from studio.run_queue import RunQueue


class QueuePanel(QWidget):
    """Mirrors a :class:`RunQueue`; the first row is the next run to start."""

    def __init__(self, queue: RunQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.list = QListWidget()
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)  # drag to reorder
        self.list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.hint = QLabel("Nothing queued. While a run goes, Run \u25b8 Queue (Ctrl+Shift+R) adds the current "
                           "recipe here; queued runs start one after another.")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Run the selected recipe sooner")
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Run the selected recipe later")
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear")
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(self.up_button)
        bar.addWidget(self.down_button)
        bar.addWidget(self.remove_button)
        bar.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.hint)
        layout.addWidget(self.list, 1)
        layout.addLayout(bar)
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button.clicked.connect(lambda: self.move_selected(1))
        self.list.model().rowsMoved.connect(self._dragged)
        self.list.currentRowChanged.connect(lambda _: self._enable())
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
        self._enable()

    def keys(self) -> list[int]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def _enable(self) -> None:
        row = self.list.currentRow()
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < self.list.count() - 1)

    def move_selected(self, offset: int) -> None:
        """Move the current row ``offset`` places; it stays selected where it lands."""
        item = self.list.currentItem()
        if item is None:
            return
        key = item.data(Qt.ItemDataRole.UserRole)
        if self.queue.move(key, offset):
            self.list.setCurrentRow(self.keys().index(key))

    def _dragged(self, *_) -> None:
        # The list moved a row itself (a drag): the queue takes the list's order, then the numbers are redrawn.
        key = self.list.currentItem().data(Qt.ItemDataRole.UserRole) if self.list.currentItem() else None
        self.queue.reorder(self.keys())
        if key in self.keys():
            self.list.setCurrentRow(self.keys().index(key))

    def remove_selected(self) -> None:
        for row in self.list.selectedItems():
            self.queue.remove(row.data(Qt.ItemDataRole.UserRole))
