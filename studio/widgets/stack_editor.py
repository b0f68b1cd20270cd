"""The ordered stack of steps: add, remove, duplicate, reorder (buttons or drag), in the recipe model."""

from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from core.recipe import Step
from core.registry import get_method
from studio.recipe_model import RecipeModel
from studio.widgets.method_palette import METHOD_MIME

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
    """Edits the steps of a :class:`~studio.recipe_model.RecipeModel`; emits ``stackChanged`` after every change.

    The list shows the model's steps, one row each (its items hold no step of their own); its own model is made
    when none is given. Steps with a problem are marked from the model's problems (their ``step``).
    """

    stackChanged = Signal()
    currentStepChanged = Signal(object)  # Step or None

    def __init__(self, model: RecipeModel | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.recipe_model = model if model is not None else RecipeModel(parent=self)
        self._select_next: int | None = None  # the row to make current once the model has changed
        self.list = _StackList()
        self.list.setToolTip("The stack runs top to bottom. Drag to reorder; drop methods from the palette.")
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.duplicate_button = QPushButton("Duplicate")
        self.up_button = QPushButton("Up")
        self.down_button = QPushButton("Down")
        for b in (self.up_button, self.down_button, self.duplicate_button, self.remove_button):
            # As wide as the word needs, not the style's minimum: the step form beside the stack gets the width.
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance(b.text()) + 18)
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
        self.list.model().rowsMoved.connect(self._dragged)
        self.list.currentRowChanged.connect(lambda _: self._current_changed())
        self.recipe_model.stepsChanged.connect(self._steps_changed)
        self.recipe_model.replaced.connect(self._replaced)
        self.recipe_model.problemsChanged.connect(lambda _: self.refresh_titles())
        self._show_steps()
        self._update_buttons()

    # -- reading -------------------------------------------------------
    def steps(self) -> list[Step]:
        return list(self.recipe_model.steps)

    def current_step(self) -> Step | None:
        row, steps = self.list.currentRow(), self.recipe_model.steps
        return steps[row] if 0 <= row < len(steps) else None

    # -- editing -------------------------------------------------------
    def set_steps(self, steps: list[Step]) -> None:
        self._select_next = 0
        self.recipe_model.set_steps(steps)

    def add_method(self, name: str, row: int | None = None) -> Step:
        spec = get_method(name)
        step = Step(name, dict(spec.default_settings()))
        return self.insert_step(step, row)

    def insert_step(self, step: Step, row: int | None = None) -> Step:
        n = len(self.recipe_model.steps)
        row = n if row is None else max(0, min(row, n))
        self._select_next = row
        self.recipe_model.insert_step(step, row)
        return step

    def remove_current(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self._select_next = row  # the step below takes its place (the one above when it was the last)
            self.recipe_model.remove_step(row)

    def duplicate_current(self) -> None:
        step = self.current_step()
        if step is not None:
            self.insert_step(copy.deepcopy(step), self.list.currentRow() + 1)

    def move_current(self, delta: int) -> None:
        row = self.list.currentRow()
        target = row + delta
        if row < 0 or not 0 <= target < self.list.count():
            return
        self._select_next = target
        self.recipe_model.move_step(row, target)

    def refresh_titles(self) -> None:
        """Relabel the rows (numbering after a move) and mark the steps that have problems."""
        problems: dict[int, str] = {}
        for p in self.recipe_model.problems:
            if p.step is not None:
                problems.setdefault(p.step, str(p))
        for i, step in enumerate(self.recipe_model.steps[:self.list.count()]):
            item = self.list.item(i)
            try:
                title = step.title()
            except KeyError:
                title = step.method
            problem = problems.get(i)
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
    def _item(self) -> QListWidgetItem:
        item = QListWidgetItem()
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsDragEnabled)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsDropEnabled)  # drops go between steps, never onto one
        return item

    def _dragged(self, _parent, start: int, _end: int, _dest, row: int) -> None:
        """A step dragged from ``start`` to before ``row``: the list shows the new order already; the model follows."""
        target = row - 1 if row > start else row
        self._select_next = target
        self.recipe_model.move_step(start, target)

    def _replaced(self) -> None:
        self._select_next = 0
        self._steps_changed()

    def _steps_changed(self) -> None:
        self._show_steps()
        self._update_buttons()
        self.stackChanged.emit()
        self._current_changed()

    def _show_steps(self) -> None:
        """One row per step of the model, the chosen one current; the rows' texts say which step they show."""
        n = len(self.recipe_model.steps)
        row = self.list.currentRow() if self._select_next is None else self._select_next
        self._select_next = None
        self.list.blockSignals(True)  # one currentStepChanged at the end, not one per row added or removed
        try:
            while self.list.count() < n:
                self.list.addItem(self._item())
            while self.list.count() > n:
                self.list.takeItem(self.list.count() - 1)
            self.list.setCurrentRow(min(row, n - 1) if n else -1)
        finally:
            self.list.blockSignals(False)
        self.refresh_titles()

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
