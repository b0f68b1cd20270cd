"""Past runs from the database, newest first, with their headline results."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMenu, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from core.db.domain import RunSummary
from core.metrics import figures as fig
from studio.runs_store import RunsStore, format_time

COLUMNS = ("Started", "Name", "Stack", "Status", "Model", "Accuracy", "Baseline", "Speedup", "Size", "Params ratio",
           "Run id")
NAME_COLUMN, STACK_COLUMN, MODEL_COLUMN, FIRST_FIGURE = 1, 2, 4, 5
# A model is often a long folder path, a stack a long chain: their columns fit the content up to these widths, then
# elide (in full in the tooltip), so the spare width goes to the run's name, the column a user reads and renames.
MODEL_MAX_WIDTH = 220
# The figure behind each figure column: its header's tooltip is that figure's help (core.metrics.figures).
FIGURE_KEYS = {"Accuracy": "accuracy", "Baseline": "baseline_accuracy", "Speedup": "speedup", "Size": "size_bytes",
               "Params ratio": "parameter_ratio"}
STACK_MAX_WIDTH = 320


def _fmt(results: dict, key: str, kind: str) -> str:
    value = results.get(key)
    if value is None or value != value:  # missing or NaN
        return ""
    if kind == "pct":
        return f"{100 * value:.1f} %"
    if kind == "mb":
        return f"{value / 1e6:.1f} MB"
    return f"{value:.2f}x"


class RunsList(QWidget):
    """A table over :meth:`RunsStore.list_runs`; ``refresh()`` re-reads it."""

    runSelected = Signal(str)
    selectionChanged = Signal(list)  # the selected run ids, in table order
    # The context menu's requests, each with a run id (the window acts on them).
    inspectRequested = Signal(str)
    openRecipeRequested = Signal(str)
    rerunRequested = Signal(str)
    exportRequested = Signal(str)

    def __init__(self, store: RunsStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for column, key in FIGURE_KEYS.items():
            spec = fig.spec(key)
            if spec is not None:
                self.table.horizontalHeaderItem(COLUMNS.index(column)).setToolTip(f"<b>{spec.label}</b><br>{spec.help}")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(MODEL_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(STACK_COLUMN, QHeaderView.ResizeMode.Interactive)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a path keeps its start and its folder name
        self.message = QLabel(store.error)
        self.message.setObjectName("hint")
        self.message.setVisible(bool(store.error))
        self.refresh_button = QPushButton("Refresh")
        self.delete_button = QPushButton("Delete")
        self.rename_button = QPushButton("Rename")
        bar = QHBoxLayout()
        bar.addWidget(self.message, 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.rename_button)
        bar.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(bar)
        self.refresh_button.clicked.connect(self.refresh)
        self.delete_button.clicked.connect(self.delete_selected)
        self.rename_button.clicked.connect(lambda: self.rename_selected())
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.rows: list[RunSummary] = []
        self.refresh()

    def set_store(self, store: RunsStore) -> None:
        self.store = store
        self.message.setText(store.error)
        self.message.setVisible(bool(store.error))
        self.refresh()

    def run_ids(self) -> list[str]:
        return [r.id for r in self.rows]

    def refresh(self) -> None:
        keep = set(self.selected_run_ids()) if self.rows else set()
        self.table.blockSignals(True)  # one selectionChanged after the rebuild, not one per row
        try:
            self.rows = self.store.list_runs()
        except Exception as exc:  # a locked or damaged database must not take the window down
            self.rows = []
            self.message.setText(f"Could not read the runs database: {exc}")
            self.message.show()
        self.table.setRowCount(len(self.rows))
        for i, row in enumerate(self.rows):
            r = row.figures
            cells = (format_time(row.started_at), row.name, row.stack, row.status, row.model_source,
                     _fmt(r, "accuracy", "pct"), _fmt(r, "baseline_accuracy", "pct"), _fmt(r, "speedup", "x"),
                     _fmt(r, "size_bytes", "mb"), _fmt(r, "parameter_ratio", "x"), row.short_id)
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, row.id)
                if j in (NAME_COLUMN, STACK_COLUMN, MODEL_COLUMN):
                    item.setToolTip(text)  # in full, where the column elides it
                if j >= FIRST_FIGURE:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        for column, widest in ((MODEL_COLUMN, MODEL_MAX_WIDTH), (STACK_COLUMN, STACK_MAX_WIDTH)):
            self.table.resizeColumnToContents(column)
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), widest))
        self.table.clearSelection()  # the selection is by row: a new run on top would shift it onto other runs
        for i, row in enumerate(self.rows):
            if row.id in keep:
                self._add_row_to_selection(i)
        self.table.blockSignals(False)
        self._selected()

    def _add_row_to_selection(self, row: int) -> None:
        from PySide6.QtCore import QItemSelectionModel

        index = self.table.model().index(row, 0)
        self.table.selectionModel().select(index, QItemSelectionModel.SelectionFlag.Select
                                           | QItemSelectionModel.SelectionFlag.Rows)

    def select_runs(self, run_ids: list[str]) -> None:
        """Select exactly these runs (as a user would by clicking with Ctrl)."""
        self.table.clearSelection()
        for run_id in run_ids:
            if run_id in self.run_ids():
                self._add_row_to_selection(self.run_ids().index(run_id))

    def selected_run_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.rows[r].id for r in rows if r < len(self.rows)]

    def selected_run_id(self) -> str | None:
        ids = self.selected_run_ids()
        return ids[0] if ids else None

    def context_menu(self) -> QMenu:
        """The right-click menu for the selected run: inspect, open its recipe, re-run, export, rename, delete."""
        menu = QMenu(self)
        run_id = self.selected_run_id()
        row = next((r for r in self.rows if r.id == run_id), None)
        finished = row is not None and row.status == "finished"
        items = (
            ("Inspect final model", self.inspectRequested, finished,
             "Layers, heads, parameters and bytes of the model this run ended with"),
            ("Open recipe in stack editor", self.openRecipeRequested, row is not None,
             "Load this run's recipe (stack, model and data) into the editor"),
            ("Re-run", self.rerunRequested, row is not None, "Run this run's recipe again (queued if a run is going)"),
            ("Export…", self.exportRequested, finished, "Export the final model (Hugging Face folder or ONNX)"),
        )
        for text, signal, enabled, tip in items:
            action = menu.addAction(text, lambda s=signal: s.emit(run_id))
            action.setEnabled(enabled and len(self.selected_run_ids()) == 1)
            action.setToolTip(tip)
        menu.setToolTipsVisible(True)
        menu.addSeparator()
        menu.addAction("Rename…", lambda: self.rename_selected()).setEnabled(row is not None)
        menu.addAction("Delete", self.delete_selected).setEnabled(row is not None)
        return menu

    def _show_context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row(), index.parent()):
            self.table.clearSelection()
            self._add_row_to_selection(index.row())
        if self.selected_run_id() is None:
            return
        menu = self.context_menu()
        menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def delete_selected(self) -> None:
        from studio.dialogs import errors

        ids = self.selected_run_ids()
        if not ids:
            return
        what = f"run {ids[0][:8]}" if len(ids) == 1 else f"{len(ids)} runs"
        if errors.ask_yes_no(self, "Delete runs", f"Delete {what} and their metrics? Files on disk stay."):
            for run_id in ids:
                try:
                    self.store.delete_run(run_id)
                except Exception as exc:
                    errors.report_exception(self, "Could not delete the run", exc)
                    break
            self.refresh()

    def rename_selected(self, name: str | None = None) -> None:
        """Rename the (first) selected run; asks for the name when ``name`` is None."""
        from studio.dialogs import errors

        run_id = self.selected_run_id()
        if run_id is None:
            return
        if name is None:
            current = next((r.name for r in self.rows if r.id == run_id), "")
            name = errors.ask_text(self, "Rename run", "New name:", current)
            if name is None:
                return
        try:
            self.store.rename_run(run_id, name.strip())
        except Exception as exc:
            errors.report_exception(self, "Could not rename the run", exc)
        self.refresh()

    def _selected(self) -> None:
        ids = self.selected_run_ids()
        self.rename_button.setEnabled(len(ids) == 1)
        self.delete_button.setEnabled(bool(ids))
        if len(ids) == 1:
            self.runSelected.emit(ids[0])
        self.selectionChanged.emit(ids)
