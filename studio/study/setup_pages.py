"""The "What varies" pages of the Study view's form, one per kind of study: order, search, grid.

Each page owns its widgets, fills them from the template recipe (:meth:`set_template`), reads them back
(its part of :class:`~studio.study.spec_builder.StudyForm`) and emits ``changed`` on every edit, never while
it fills a row.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from core.recipe import Recipe
from studio.study.spec_builder import GridRow, RangeRow, searchable_settings

ORDER_HINT = "Tick 2 to 4 steps: each runs alone, then every order of them, all from one cached teacher."


def hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def checklist() -> QListWidget:
    box = QListWidget()
    box.setMaximumHeight(130)
    return box


def fill_checklist(box: QListWidget, recipe: Recipe) -> None:
    """One unticked item per step of ``recipe``, its data the 1-based step number."""
    box.clear()
    for n, step in enumerate(recipe.steps, 1):
        item = QListWidgetItem(f"{n}. {step.title()}")
        item.setData(Qt.ItemDataRole.UserRole, n)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Unchecked)
        box.addItem(item)


def checked(box: QListWidget) -> list[int]:
    return [box.item(i).data(Qt.ItemDataRole.UserRole) for i in range(box.count())
            if box.item(i).checkState() == Qt.CheckState.Checked]


def check_steps(box: QListWidget, numbers: list[int]) -> None:
    for i in range(box.count()):
        item = box.item(i)
        item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in numbers
                           else Qt.CheckState.Unchecked)


def cell_text(table: QTableWidget, row: int, col: int) -> str:
    item = table.item(row, col)
    return item.text().strip() if item is not None else ""


def number(text: str):
    """A typed number as int or float; text that is no number stays text (the spec names the problem)."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text  # the spec names it: "needs numbers low and high"
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


class Pages(QWidget):
    """One page shown at a time, sized to that page (a QStackedWidget keeps the height of its tallest page)."""

    def __init__(self):
        super().__init__()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._pages: list[QWidget] = []
        self._current = 0

    def addWidget(self, page: QWidget) -> None:
        self._pages.append(page)
        self._layout.addWidget(page)
        page.setVisible(len(self._pages) - 1 == self._current)

    def setCurrentIndex(self, index: int) -> None:
        self._current = index
        for i, page in enumerate(self._pages):
            page.setVisible(i == index)

    def currentIndex(self) -> int:
        return self._current

    def count(self) -> int:
        return len(self._pages)

    def widget(self, index: int) -> QWidget:
        return self._pages[index]


class _Page(QWidget):
    changed = Signal()

    def __init__(self):
        super().__init__()
        self.recipe = Recipe()
        self.filling = False  # rows being built: their widgets' signals are not edits yet
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)

    def set_template(self, recipe: Recipe) -> None:
        """Start from ``recipe``: its steps fill the lists; rows made for another stack go (no ``changed``)."""
        self.filling = True
        self.recipe = recipe
        self.fill()
        self.filling = False

    def fill(self) -> None:
        """Fill the page's lists from ``self.recipe``."""

    def emit_changed(self, *_) -> None:
        if not self.filling:
            self.changed.emit()

    def row_table(self, headers: list[str], add_label: str, add) -> tuple[QTableWidget, QHBoxLayout]:
        """An editable table of rows with its Add and Remove buttons (search ranges, grid variants)."""
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().hide()
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        add_button, remove = QPushButton(add_label), QPushButton("Remove")
        add_button.clicked.connect(add)
        remove.clicked.connect(lambda: self._remove_row(table))
        table.itemChanged.connect(self.emit_changed)
        buttons = QHBoxLayout()
        buttons.addWidget(add_button)
        buttons.addWidget(remove)
        buttons.addStretch()
        return table, buttons

    def _remove_row(self, table: QTableWidget) -> None:
        rows = sorted({i.row() for i in table.selectedIndexes()} or {table.rowCount() - 1}, reverse=True)
        for row in rows:
            if row >= 0:
                table.removeRow(row)
        self.emit_changed()


class OrderPage(_Page):
    """The steps whose orders the study compares."""

    def __init__(self):
        super().__init__()
        self.steps = checklist()
        self.steps.setMaximumHeight(170)
        self.steps.itemChanged.connect(self.emit_changed)
        self.layout_.addWidget(hint(ORDER_HINT))
        self.layout_.addWidget(self.steps)

    def fill(self) -> None:
        fill_checklist(self.steps, self.recipe)


class SearchPage(_Page):
    """Setting ranges (or choices), the optional steps and the sampler of a search."""

    def __init__(self):
        super().__init__()
        self.ranges, buttons = self.row_table(["Step", "Setting", "Low", "High", "or choices"], "Add range",
                                              lambda: self.add_range())
        self.ranges.setToolTip("A number range (low, high), or comma-separated choices such as 4, 8")
        self.optional = checklist()
        self.optional.itemChanged.connect(self.emit_changed)
        self.sampler = QComboBox()
        self.sampler.addItem("TPE (one score)", "tpe")
        self.sampler.addItem("NSGA-II (several objectives)", "nsga2")
        self.sampler.currentIndexChanged.connect(self.emit_changed)
        self.layout_.addWidget(hint("Settings to range over:"))
        self.layout_.addWidget(self.ranges, 1)
        self.layout_.addLayout(buttons)
        self.layout_.addWidget(hint("Optional steps (a trial may leave them out):"))
        self.layout_.addWidget(self.optional)
        row = QFormLayout()
        row.addRow("Sampler", self.sampler)
        self.layout_.addLayout(row)

    def fill(self) -> None:
        fill_checklist(self.optional, self.recipe)
        self.ranges.setRowCount(0)

    def add_range(self, step: int | None = None, setting: str | None = None, low=None, high=None,
                  choices: str = "") -> int:
        row = self.ranges.rowCount()
        self.filling = True
        self.ranges.insertRow(row)
        steps = QComboBox()
        for n, s in enumerate(self.recipe.steps, 1):
            steps.addItem(f"{n}. {s.title()}", n)
        settings = QComboBox()
        self.ranges.setCellWidget(row, 0, steps)
        self.ranges.setCellWidget(row, 1, settings)
        for col, value in ((2, low), (3, high), (4, choices)):
            self.ranges.setItem(row, col, QTableWidgetItem("" if value is None else str(value)))

        def fill_settings() -> None:
            settings.clear()
            for info in searchable_settings(self.recipe, steps.currentData() or 0):
                settings.addItem(info.name, info.name)
                settings.setItemData(settings.count() - 1, info.help, Qt.ItemDataRole.ToolTipRole)
        steps.currentIndexChanged.connect(fill_settings)
        steps.currentIndexChanged.connect(self.emit_changed)
        settings.currentIndexChanged.connect(self.emit_changed)
        if step is not None:
            steps.setCurrentIndex(max(0, steps.findData(step)))
        fill_settings()
        if setting is not None:
            settings.setCurrentIndex(max(0, settings.findData(setting)))
        self.filling = False
        self.emit_changed()
        return row

    def range_rows(self) -> list[RangeRow]:
        rows = []
        for row in range(self.ranges.rowCount()):
            steps, settings = self.ranges.cellWidget(row, 0), self.ranges.cellWidget(row, 1)
            rows.append(RangeRow(steps.currentData() or 0, settings.currentData() or "",
                                 number(cell_text(self.ranges, row, 2)), number(cell_text(self.ranges, row, 3)),
                                 cell_text(self.ranges, row, 4)))
        return rows


class GridPage(_Page):
    """The variants of a grid study: a name, changed settings, steps left out."""

    def __init__(self):
        super().__init__()
        self.variants, buttons = self.row_table(["Name", "Settings (step.setting=value, ...)", "Leave out steps"],
                                                "Add variant", lambda: self.add_variant())
        self.layout_.addWidget(hint("Each variant is the stack with some settings changed or steps left out, "
                                    "e.g. settings 2.amount=0.3, leave out 4."))
        self.layout_.addWidget(self.variants, 1)
        self.layout_.addLayout(buttons)

    def fill(self) -> None:
        self.variants.setRowCount(0)

    def add_variant(self, name: str | None = None, settings: str = "", skip: str = "") -> int:
        row = self.variants.rowCount()
        self.filling = True
        self.variants.insertRow(row)
        for col, text in enumerate((name or f"variant {row + 1}", settings, skip)):
            self.variants.setItem(row, col, QTableWidgetItem(text))
        self.filling = False
        self.emit_changed()
        return row

    def grid_rows(self) -> list[GridRow]:
        return [GridRow(*(cell_text(self.variants, r, c) for c in range(3))) for r in range(self.variants.rowCount())]
