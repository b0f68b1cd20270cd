"""The ordered stack of steps: add, remove, duplicate, reorder (buttons or drag)."""

from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from core.recipe import Step
from core.registry import get_method
from studio.widgets.method_palette import METHOD_MIME

_STEP_ROLE = Qt.ItemDataRole.UserRole
EMPTY_HINT = ("The stack is empty.\n\nDrag a method here from the Methods palette, or double-click one there. "
              "Steps run from top to bottom; drag them to reorder.")


class _StackList(QListWidget):
    """Internal moves reorder; a drop from the palette inserts a new step."""

    methodDropped = Signal(str, int)

    def __init__(self) -> None:
        super().__init__()
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setAcceptDrops(True)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0:  # an empty white box says nothing to a first-time user: say what goes here
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            rect = self.viewport().rect().adjusted(16, 16, -16, -16)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, EMPTY_HINT)
            painter.end()

    def mimeTypes(self) -> list[str]:
        return super().mimeTypes() + [METHOD_MIME]

    def _accepts(self, event) -> bool:
        return event.source() is self or event.mimeData().hasFormat(METHOD_MIME)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasFormat(METHOD_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasFormat(METHOD_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if event.mimeData().hasFormat(METHOD_MIME) and event.source() is not self:
            row = self.indexAt(event.position().toPoint()).row()
            for name in bytes(event.mimeData().data(METHOD_MIME)).decode().split("\n"):
                if name:
                    self.methodDropped.emit(name, self.count() if row < 0 else row)
            event.acceptProposedAction()
        else:
            super().dropEvent(event)


class StackEditor(QWidget):
    """Edits a list of :class:`~core.recipe.Step`; emits ``stackChanged`` after every change."""

    stackChanged = Signal()
    currentStepChanged = Signal(object)  # Step or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.list = _StackList()
        self.list.setToolTip("The stack runs top to bottom. Drag to reorder; drop methods from the palette.")
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.duplicate_button = QPushButton("Duplicate")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        for b in (self.up_button, self.down_button, self.duplicate_button, self.remove_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.remove_button.clicked.connect(self.remove_current)
        self.duplicate_button.clicked.connect(self.duplicate_current)
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button.clicked.connect(lambda: self.move_current(1))
        self.list.methodDropped.connect(lambda name, row: self.add_method(name, row))
        self.list.model().rowsMoved.connect(lambda *a: self._changed())
        self.list.currentRowChanged.connect(lambda _: self._current_changed())
        self._update_buttons()

    # -- reading -------------------------------------------------------
    def steps(self) -> list[Step]:
        return [self.list.item(i).data(_STEP_ROLE) for i in range(self.list.count())]

    def current_step(self) -> Step | None:
        item = self.list.currentItem()
        return item.data(_STEP_ROLE) if item else None

    # -- editing -------------------------------------------------------
    def set_steps(self, steps: list[Step]) -> None:
        self.list.clear()
        for step in steps:
            self.list.addItem(self._item(copy.deepcopy(step)))
        if steps:
            self.list.setCurrentRow(0)
        self._changed()

    def add_method(self, name: str, row: int | None = None) -> Step:
        spec = get_method(name)
        step = Step(name, dict(spec.default_settings()))
        return self.insert_step(step, row)

    def insert_step(self, step: Step, row: int | None = None) -> Step:
        row = self.list.count() if row is None else max(0, min(row, self.list.count()))
        self.list.insertItem(row, self._item(step))
        self.list.setCurrentRow(row)
        self._changed()
        return step

    def remove_current(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self._changed()

    def duplicate_current(self) -> None:
        step = self.current_step()
        if step is not None:
            self.insert_step(copy.deepcopy(step), self.list.currentRow() + 1)

    def move_current(self, delta: int) -> None:
        row = self.list.currentRow()
        target = row + delta
        if row < 0 or not 0 <= target < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(target, item)
        self.list.setCurrentRow(target)
        self._changed()

    def refresh_titles(self, problems_by_row: dict[int, str] | None = None) -> None:
        """Relabel the items (numbering after a move) and mark steps that have problems."""
        problems_by_row = problems_by_row or {}
        for i in range(self.list.count()):
            item = self.list.item(i)
            step = item.data(_STEP_ROLE)
            try:
                title = step.title()
            except KeyError:
                title = step.method
            problem = problems_by_row.get(i)
            item.setText(f"{i + 1}. {title}" + ("   \u26a0" if problem else ""))
            item.setToolTip(problem or f"{step.method}: {step.settings}")
            item.setForeground(Qt.GlobalColor.darkRed if problem else self.palette().text().color())

    def set_editable(self, editable: bool) -> None:
        self.list.setDragEnabled(editable)
        self.list.setAcceptDrops(editable)
        for b in (self.remove_button, self.duplicate_button, self.up_button, self.down_button):
            b.setEnabled(editable)
        self._editable = editable

    # -- internals -----------------------------------------------------
    def _item(self, step: Step) -> QListWidgetItem:
        item = QListWidgetItem(step.method)
        item.setData(_STEP_ROLE, step)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsDragEnabled)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDropEnabled)  # drops go between steps, never onto one
        return item

    def _changed(self) -> None:
        self.refresh_titles()
        self._update_buttons()
        self.stackChanged.emit()
        self._current_changed()

    def _current_changed(self) -> None:
        self._update_buttons()
        self.currentStepChanged.emit(self.current_step())

    def _update_buttons(self) -> None:
        if not getattr(self, "_editable", True):
            return
        row, n = self.list.currentRow(), self.list.count()
        self.remove_button.setEnabled(row >= 0)
        self.duplicate_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < n - 1)
