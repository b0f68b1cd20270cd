"""Past runs from the database, newest first, with their headline results.

Every column sorts (figures by value, blanks last); a filter row narrows the rows by text, model and status,
and by a least speedup and score. The score column is the one ``bert-studio runs --score`` prints, chosen in
the view (geomean, fastest, smallest or a formula).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMenu, QPushButton, QTableWidget,
                               QVBoxLayout, QWidget)

from core.db.domain import RunSummary
from core.metrics import figures as fig
from core.metrics.task_figures import headline_key, headline_label, headline_text, headline_value_text, headlines_help
from studio.compare import UNRELIABLE_MARK
from studio.runs_store import RunsStore, delete_folders, folder_bytes, format_time
from studio.widgets.runs_cells import SORT_ROLE, Item as _Item, cell_text as _fmt
from studio.widgets.runs_filter import RunsFilter, number as _number

COLUMNS = ("Started", "Name", "Stack", "Status", "Model", "Headline", "Baseline", "Speedup", "Score", "Size",
           "Params ratio", "Run id")
NAME_COLUMN, STACK_COLUMN, STATUS_COLUMN, MODEL_COLUMN, FIRST_FIGURE, HEADLINE_COLUMN = 1, 2, 3, 4, 5, 5
SPEEDUP_COLUMN, SCORE_COLUMN = COLUMNS.index("Speedup"), COLUMNS.index("Score")
# A model is often a long folder path, a stack a long chain: their columns fit the content up to these widths, then
# elide (in full in the tooltip), so the spare width goes to the run's name, the column a user reads and renames.
MODEL_MAX_WIDTH = 220
# The figure behind each figure column: its header's tooltip is that figure's help (core.metrics.figures).
FIGURE_KEYS = {"Speedup": "speedup", "Size": "size_bytes", "Params ratio": "parameter_ratio"}
HEADLINE_TIPS = {"Headline": f"<b>Headline figure</b><br>Each run's task's own: {headlines_help()}.",
                 "Baseline": "<b>Baseline</b><br>The same figure of the run's baseline (before compression)."}
STACK_MAX_WIDTH = 320
NAME_MIN_WIDTH = 180  # the name stays readable in a narrow window: below this the table scrolls sideways instead


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
        self.titles = list(COLUMNS)  # the headers' texts: the headline's names the runs' figure (refresh)
        self.table.setHorizontalHeaderLabels(self.titles)
        for column, key in FIGURE_KEYS.items():
            spec = fig.spec(key)
            if spec is not None:
                self.table.horizontalHeaderItem(COLUMNS.index(column)).setToolTip(f"<b>{spec.label}</b><br>{spec.help}")
        for column, tip in HEADLINE_TIPS.items():
            self.table.horizontalHeaderItem(COLUMNS.index(column)).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.viewport().installEventFilter(self)  # its width decides the name column's (_fit_name)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(MODEL_COLUMN, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(STACK_COLUMN, QHeaderView.ResizeMode.Interactive)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a path keeps its start and its folder name
        # Sorted by a click on a header; the arrow is drawn in that header's text only (Qt's own indicator would
        # reserve its width in every header and squeeze the name column).
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self.sort_by)
        self.sort_column, self.sort_order = 0, Qt.SortOrder.DescendingOrder  # newest first
        self.filters = RunsFilter()
        self.message = QLabel(store.error)
        self.message.setObjectName("hint")
        self.message.setVisible(bool(store.error))
        self.cache_label = QLabel("")
        self.cache_label.setObjectName("hint")
        self.clear_cache_button = QPushButton("Clear step cache\u2026")
        self.clear_cache_button.setToolTip("Remove every step-cache entry: later runs compute their leading steps "
                                           "again. Runs and their figures stay.")
        self.refresh_button = QPushButton("Refresh")
        self.delete_button = QPushButton("Delete")
        self.rename_button = QPushButton("Rename")
        bar = QHBoxLayout()
        bar.addWidget(self.message, 1)
        bar.addWidget(self.cache_label)
        bar.addWidget(self.clear_cache_button)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.rename_button)
        bar.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(bar)
        self.bar = bar
        self.refresh_button.clicked.connect(self.refresh)
        self.clear_cache_button.clicked.connect(self.clear_cache)
        self.delete_button.clicked.connect(self.delete_selected)
        self.rename_button.clicked.connect(lambda: self.rename_selected())
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.filters.filtersChanged.connect(self.apply_filters)
        self.filters.scoreChanged.connect(self._score_changed)
        self.rows: list[RunSummary] = []
        self._score_changed(refresh=False)
        self.refresh()

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self.table.viewport():
            self._fit_name()
        return super().eventFilter(watched, event)

    def _fit_name(self) -> None:
        """The name column takes the spare width, never less than :data:`NAME_MIN_WIDTH` (the stretch alone
        squeezed it to about 30 px at 1280 px with the Run dock shown)."""
        others = sum(self.table.columnWidth(c) for c in range(len(COLUMNS)) if c != NAME_COLUMN)
        squeezed = self.table.viewport().width() - others < NAME_MIN_WIDTH
        mode = QHeaderView.ResizeMode.Interactive if squeezed else QHeaderView.ResizeMode.Stretch
        self.table.horizontalHeader().setSectionResizeMode(NAME_COLUMN, mode)
        if squeezed:
            self.table.setColumnWidth(NAME_COLUMN, NAME_MIN_WIDTH)

    def set_store(self, store: RunsStore) -> None:
        self.store = store
        self.message.setText(store.error)
        self.message.setVisible(bool(store.error))
        self.refresh()

    def run_ids(self) -> list[str]:
        """The runs' ids in the order the table shows them (its sort), hidden (filtered) rows included."""
        items = (self.table.item(i, 0) for i in range(self.table.rowCount()))
        return [item.data(Qt.ItemDataRole.UserRole) for item in items if item is not None]

    def visible_run_ids(self) -> list[str]:
        """The ids of the rows the filters leave shown, in table order."""
        return [run_id for i, run_id in enumerate(self.run_ids()) if not self.table.isRowHidden(i)]

    def _score_changed(self, refresh: bool = True) -> None:
        score = self.filters.score
        self.table.horizontalHeaderItem(SCORE_COLUMN).setToolTip(
            f"<b>Score</b><br>{score.describe()}<br>Higher is better; as <code>bert-studio runs --score</code> "
            "computes it. Choose it above the table.")
        if refresh:
            self.refresh()

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
        # Runs with one headline figure: the header names it (Accuracy, Entity F1); with several, each cell does.
        heads = {headline_key(row.figures) for row in self.rows if headline_text(row.figures)}
        shared = heads.pop() if len(heads) == 1 else None if heads else "accuracy"
        self.titles[HEADLINE_COLUMN] = headline_label(shared) if shared else "Headline"
        for i, row in enumerate(self.rows):
            r = row.figures or {}
            score, head = self.filters.score_of(row), headline_key(r)
            cells = (format_time(row.started_at), row.name, row.stack, row.status, row.model_source,
                     headline_value_text(head, r.get(head)) if shared else headline_text(r),
                     headline_value_text(head, r.get(f"baseline_{head}")), _fmt(r, "speedup", "x"),
                     "" if score != score else f"{score:.4g}", _fmt(r, "size_bytes", "mb"),
                     _fmt(r, "parameter_ratio", "x"), row.short_id)
            keys = (row.started_at.timestamp() if row.started_at else None, row.name, row.stack, row.status,
                    row.model_source, _number(r, head), _number(r, f"baseline_{head}"),
                    _number(r, "speedup"), None if score != score else score, _number(r, "size_bytes"),
                    _number(r, "parameter_ratio"), row.id)
            for j, (text, key) in enumerate(zip(cells, keys)):
                item = _Item(text)
                item.setData(Qt.ItemDataRole.UserRole, row.id)
                item.setData(SORT_ROLE, key)
                if j in (NAME_COLUMN, STACK_COLUMN, MODEL_COLUMN):
                    item.setToolTip(text)  # in full, where the column elides it
                if j == SPEEDUP_COLUMN and UNRELIABLE_MARK in text:
                    item.setToolTip("The speedup's interval is wide: the machine was busy while it was timed. "
                                    "Measure side by side (select several runs) to time it again.")
                if j >= FIRST_FIGURE:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self._sort()
        for column, widest in ((MODEL_COLUMN, MODEL_MAX_WIDTH), (STACK_COLUMN, STACK_MAX_WIDTH)):
            self.table.resizeColumnToContents(column)
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), widest))
        self._fit_name()
        self.filters.fill_choices(self.rows)
        self.apply_filters()
        self.show_cache()
        self.table.clearSelection()  # the selection is by row: a new run on top would shift it onto other runs
        for i, run_id in enumerate(self.run_ids()):
            if run_id in keep:
                self._add_row_to_selection(i)
        self.table.blockSignals(False)
        self._selected()

    def sort_by(self, column: int) -> None:
        """Sort by ``column``: a second click reverses; figures start best (highest) first, text A to Z."""
        if column == self.sort_column:
            descending = self.sort_order == Qt.SortOrder.AscendingOrder
        else:
            descending = column >= FIRST_FIGURE and column != len(COLUMNS) - 1 or column == 0
        self.sort_column = column
        self.sort_order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        keep = self.selected_run_ids()
        self.table.blockSignals(True)
        self._sort()
        self.table.clearSelection()
        for i, run_id in enumerate(self.run_ids()):
            if run_id in keep:
                self._add_row_to_selection(i)
        self.table.blockSignals(False)

    def _sort(self) -> None:
        hidden = {run_id for i, run_id in enumerate(self.run_ids()) if self.table.isRowHidden(i)}
        self.table.descending = self.sort_order == Qt.SortOrder.DescendingOrder
        self.table.sortItems(self.sort_column, self.sort_order)
        for i, run_id in enumerate(self.run_ids()):  # hidden rows stay hidden where they moved
            self.table.setRowHidden(i, run_id in hidden)
        arrow = " \u25be" if self.sort_order == Qt.SortOrder.DescendingOrder else " \u25b4"
        for j, title in enumerate(self.titles):
            self.table.horizontalHeaderItem(j).setText(title + (arrow if j == self.sort_column else ""))

    def show_cache(self) -> None:
        """The step cache's size against its cap, beside the buttons (hidden without a database)."""
        try:
            cache = self.store.step_cache()
            size = cache.size_bytes() if cache is not None else 0
        except OSError:
            cache = None
        self.cache_label.setVisible(cache is not None)
        self.clear_cache_button.setVisible(cache is not None)
        if cache is None:
            return
        from core.engine.cache import CAP_ENV

        self.cache_label.setText(f"Step cache: {size / 1e6:.1f} MB of {cache.cap_bytes / 1e9:.1f} GB")
        self.cache_label.setToolTip(f"Finished runs leave their stack's leading steps in {cache.root}; later runs "
                                    f"with the same leading steps start from there. The least recently used entries "
                                    f"go first once the cap is reached (${CAP_ENV} sets it, in GiB).")
        self.clear_cache_button.setEnabled(size > 0)

    def clear_cache(self) -> None:
        """Empty the step cache, after asking; says how much it freed."""
        from studio.dialogs import errors

        cache = self.store.step_cache()
        if cache is None:
            return
        size = cache.size_bytes()
        if not errors.ask_yes_no(self, "Clear the step cache?",
                                 f"Delete the step cache ({size / 1e6:.1f} MB in {cache.root})? Later runs compute "
                                 "their leading steps again; runs and their figures stay."):
            return
        freed = cache.clear()
        self.message.setText(f"Step cache cleared: {freed / 1e6:.1f} MB freed.")
        self.message.show()
        self.show_cache()

    def apply_filters(self) -> None:
        """Hide the rows the filters leave out (a hidden selected row is unselected)."""
        by_id = {r.id: r for r in self.rows}
        for i, run_id in enumerate(self.run_ids()):
            shown = self.filters.accepts(by_id[run_id])
            self.table.setRowHidden(i, not shown)
            if not shown and self.table.selectionModel().isRowSelected(i, self.table.rootIndex()):
                self.table.selectionModel().select(self.table.model().index(i, 0), self._flags("Deselect"))

    @staticmethod
    def _flags(what: str):
        from PySide6.QtCore import QItemSelectionModel

        return getattr(QItemSelectionModel.SelectionFlag, what) | QItemSelectionModel.SelectionFlag.Rows

    def _add_row_to_selection(self, row: int) -> None:
        index = self.table.model().index(row, 0)
        self.table.selectionModel().select(index, self._flags("Select"))

    def select_runs(self, run_ids: list[str]) -> None:
        """Select exactly these runs (as a user would by clicking with Ctrl)."""
        self.table.clearSelection()
        for run_id in run_ids:
            if run_id in self.run_ids():
                self._add_row_to_selection(self.run_ids().index(run_id))

    def selected_run_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        ids = self.run_ids()
        return [ids[r] for r in rows if r < len(ids)]

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
        """Delete the selected runs from the database; then offer to delete their files on disk too."""
        from studio.dialogs import errors

        ids = self.selected_run_ids()
        if not ids:
            return
        what = f"run {ids[0][:8]}" if len(ids) == 1 else f"{len(ids)} runs"
        if not errors.ask_yes_no(self, "Delete runs", f"Delete {what} and their metrics from the runs database?"):
            return
        folders = [f for run_id in ids for f in self.store.run_folders(run_id)]  # read before the rows go
        for run_id in ids:
            try:
                self.store.delete_run(run_id)
            except Exception as exc:
                errors.report_exception(self, "Could not delete the run", exc)
                break
        self.refresh()
        if folders:
            size = folder_bytes(folders)
            where = str(folders[0]) if len(folders) == 1 else f"{len(folders)} folders under {folders[0].parent}"
            if errors.ask_yes_no(self, "Delete the run files too?",
                                 f"Also delete the deleted runs' files on disk ({size / 1e6:.1f} MB in {where}): "
                                 "their checkpoints? Exports are kept either way; No keeps the files."):
                freed = delete_folders(folders)
                self.message.setText(f"Deleted {what}; {freed / 1e6:.1f} MB of run files freed.")
            else:
                self.message.setText(f"Deleted {what}; its files stay in {where}.")
            self.message.show()

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
