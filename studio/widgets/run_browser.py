"""The saved runs: the list on top; below it one run's details, or a comparison when several are selected."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QSplitter, QStackedWidget, QVBoxLayout, QWidget

from studio.runs_store import RunsStore
from studio.widgets.run_compare import RunComparison
from studio.widgets.run_details import RunDetails
from studio.widgets.runs_list import RunsList


EXPORT_TIP = "Export the selected run's final model (Hugging Face folder or ONNX)"
SELECT_HINT = "Select a run to see its details; select several (Ctrl or Shift) to compare them."
EMPTY_HINT = ("No saved runs in this database yet.\n\nRun a recipe from the \u201cRecipe and live run\u201d tab "
              "(Run, Ctrl+R): every run is recorded here with its settings, curves and results, ready to compare "
              "and export. File \u25b8 Runs database location shows or changes where runs are kept.")


class RunBrowser(QWidget):
    """Wires a :class:`RunsList` to :class:`RunDetails` (one run) and :class:`RunComparison` (several)."""

    exportRequested = Signal(str)  # run id

    def __init__(self, store: RunsStore, parent: QWidget | None = None):
        super().__init__(parent)
        self.store = store
        self.list = RunsList(store)
        self.export_button = QPushButton("Export\u2026")
        self.export_button.setToolTip(EXPORT_TIP)
        self.list.bar.addWidget(self.export_button)
        self.hint = QLabel(SELECT_HINT)
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.details = RunDetails()
        self.comparison = RunComparison()
        self.pages = QStackedWidget()
        for page in (self.hint, self.details, self.comparison):
            self.pages.addWidget(page)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.list)
        split.addWidget(self.pages)
        split.setStretchFactor(1, 3)
        split.setSizes([220, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.list.selectionChanged.connect(self.show_selection)
        self.export_button.clicked.connect(self._export)
        self.list.exportRequested.connect(self.exportRequested)
        self.export_button.setEnabled(False)
        self.show_selection([])

    def set_store(self, store: RunsStore) -> None:
        self.store = store
        self.list.set_store(store)
        self.show_selection(self.list.selected_run_ids())

    def _series(self, run_id: str) -> dict[str, list]:
        return {key: self.store.metric_series(run_id, key) for key in self.store.metric_keys(run_id)
                if not key.startswith("final/")}

    def show_selection(self, run_ids: list[str]) -> None:
        self.export_button.setEnabled(False)
        try:
            records = [self.store.get_run(r) for r in run_ids]
        except KeyError:  # deleted by another process meanwhile
            self.list.refresh()
            return
        # Only a finished run has a final model to export; the tooltip says why the button is off otherwise.
        finished = len(records) == 1 and records[0].status == "finished"
        self.export_button.setEnabled(finished)
        self.export_button.setToolTip(EXPORT_TIP if finished or len(records) != 1 else
                                      f"Only a finished run has a final model to export (this run: {records[0].status}).")
        if not records:
            self.hint.setText(SELECT_HINT if self.list.rows else EMPTY_HINT)
            self.pages.setCurrentWidget(self.hint)
        elif len(records) == 1:
            self.details.show_run(records[0], self._series(records[0].id))
            self.pages.setCurrentWidget(self.details)
        else:
            self.comparison.show_runs(records, {r.id: self._series(r.id) for r in records})
            self.pages.setCurrentWidget(self.comparison)

    def _export(self) -> None:
        run_id = self.list.selected_run_id()
        if run_id:
            self.exportRequested.emit(run_id)
