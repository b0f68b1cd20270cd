"""A study's trials as a table: number, what it tried, status, score and the headline figures."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QMenu, QTableWidget, QTableWidgetItem

from core.metrics.figures import format_figure, label as figure_label, unreliable
from studio.compare import UNRELIABLE_MARK

COLUMNS = ("#", "Trial", "Status", "Score", "Accuracy retained", "Speedup", "Size ratio", "Run", "Note")
FIGURE_COLUMNS = {4: "accuracy_retained", 5: "speedup", 6: "size_ratio"}
STATUS_COLOURS = {"running": "#2563eb", "finished": "#15803d", "failed": "#b91c1c", "cancelled": "#92400e",
                  "interrupted": "#92400e", "pruned": "#6b7280", "skipped": "#6b7280"}


def format_score(value: float) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value == -math.inf:
        return "fails a floor"
    return f"{value:.4g}"


class TrialsTable(QTableWidget):
    """One row per trial (from :class:`core.study.report.TrialView`); the best one in bold."""

    openRunRequested = Signal(str)  # run id
    openRecipeRequested = Signal(str)  # run id

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.doubleClicked.connect(lambda _: self._emit_open(self.openRunRequested))
        self.trials: list = []

    def set_retained(self, retained: str) -> None:
        """Column 4 shows the study task's retained figure (``entity_f1_retained`` for a token study)."""
        self.retained = retained
        self.setHorizontalHeaderItem(4, QTableWidgetItem(figure_label(retained)))

    def show_trials(self, trials: list, best=None, retained: str = "accuracy_retained") -> None:
        """``retained``: the study task's retained figure (``entity_f1_retained`` for a token study), column 4."""
        selected = self.selected_run_id()
        self.trials = list(trials)
        self.set_retained(retained)
        self.setRowCount(len(self.trials))
        for row, t in enumerate(self.trials):
            cells = [str(t.number + 1), t.label, t.status, format_score(t.value)]
            keys = (retained, *list(FIGURE_COLUMNS.values())[1:])
            cells += [format_figure(key, t.figures.get(key)) if t.figures else "-" for key in keys]
            shaky = bool(t.figures) and unreliable(t.figures, "speedup")
            if shaky:  # as the saved runs and `bert-studio runs` mark it: a wide interval, not a fact
                cells[5] += " " + UNRELIABLE_MARK
            cells += [t.run_id[:8] if t.run_id else "-", t.note or ("" if t.feasible or not t.figures
                                                                     else "fails a constraint")]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (0, 3, 4, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col == 2:
                    item.setForeground(QBrush(QColor(STATUS_COLOURS.get(t.status, "#111827"))))
                if col == 1:
                    item.setToolTip(t.label)
                if col == 8 and t.note:
                    item.setToolTip(t.note)
                if col == 5 and shaky:
                    item.setToolTip("The speedup's interval is wide: the machine was busy while this trial was "
                                    "timed. Open the run and measure it side by side to time it again.")
                if best is not None and t.number == best.number:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    if col == 1:
                        item.setToolTip(f"{t.label} (best so far by the study's score)")
                self.setItem(row, col, item)
            if selected and t.run_id == selected:
                self.selectRow(row)

    def status_of(self, number: int) -> str | None:
        return next((t.status for t in self.trials if t.number == number), None)

    def selected_trial(self):
        rows = {i.row() for i in self.selectedIndexes()}
        return self.trials[rows.pop()] if len(rows) == 1 and self.trials else None

    def selected_run_id(self) -> str | None:
        trial = self.selected_trial()
        return trial.run_id if trial is not None else None

    def select_trial(self, number: int) -> None:
        for row, t in enumerate(self.trials):
            if t.number == number:
                self.selectRow(row)

    def _emit_open(self, signal) -> None:
        run_id = self.selected_run_id()
        if run_id:
            signal.emit(run_id)

    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        has_run = self.selected_run_id() is not None
        for text, signal in (("Open run in the runs browser", self.openRunRequested),
                             ("Open its recipe in the stack editor", self.openRecipeRequested)):
            action = menu.addAction(text)
            action.setEnabled(has_run)
            action.triggered.connect(lambda _=False, s=signal: self._emit_open(s))
        return menu

    def _menu(self, pos) -> None:
        self.context_menu().exec(self.viewport().mapToGlobal(pos))
