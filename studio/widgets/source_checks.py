"""Choosing a model folder or a dataset in the model-and-data panel: checked in the background first.

A mixin of :class:`~studio.widgets.model_data_panel.ModelDataPanel`. A folder or file the user picks is
loaded (a model) or read (a dataset's columns, then the column-mapping dialog) off the GUI thread; it
becomes the recipe's only when that worked. Otherwise an error dialog says why and the previous choice
stays. The status line says what is being checked and, after, what was chosen.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from core.recipe import DataRef
from studio.dialogs import errors
from studio.widgets.recent_data import DATA_LABELS, read_columns
from studio.workers import run_in_background

# Short enough to show whole in a narrow dock (the longer story is in each item's tooltip).
MODEL_LABELS = {"default": "default (MiniLM-L6)", "tiny": "tiny (random)"}
MODEL_TIPS = {"default": "The embedded all-MiniLM-L6-v2 (6 layers, 22 M parameters)",
              "tiny": "A tiny random BERT, for quick checks of a stack"}
_TEXT_GUESSES = ("text", "sentence", "review", "content", "sentence1")
_LABEL_GUESSES = ("label", "labels", "category", "class", "target")


def check_model_source(source: str) -> dict:
    """Load ``source`` and describe it (raises :class:`~core.errors.ModelLoadError`); runs off the GUI thread.

    A folder fine-tuned for a task is loaded with its own head (``info["head"]``: what its config.json says, the
    task detected); a folder without a task head is loaded as a sentence classifier, its head new.
    """
    from core.models.architecture import describe, serialized_size
    from core.models.loading import load_model
    from core.models.task_head import folder_head

    head = folder_head(source)
    task = head["task"] or "sequence-classification"
    outputs = head["outputs"] if head["task"] and head["outputs"] else 2
    state = load_model(source, num_labels=outputs, task=task, label_names=head["labels"] or None)
    info = describe(state.model)
    info["size_bytes"] = serialized_size(state.model)
    info["source"] = source
    info["head"] = head  # the folder's own head (the loaded one may be new)
    return info


class SourceChecksMixin:
    """Picks and checks the model and data sources; the panel provides the widgets and the recipe model."""

    def choose_model_folder(self, path: str) -> None:
        """Accept ``path`` as the model once it loads; otherwise show why and keep the current model."""
        self._start(f"Checking the model folder {path}\u2026")
        run_in_background(lambda: check_model_source(path), self._model_ok, self._model_failed, self)

    def choose_data_file(self, path: str) -> None:
        """Accept ``path`` as the dataset once it reads; otherwise show why and keep the current data."""
        self._start(f"Reading {path}\u2026")
        run_in_background(lambda: (path, read_columns(path)), self._data_ok, self._data_failed, self)

    def inspect_model(self) -> None:
        source = self.model_box.currentData()
        self._start(f"Loading {source} to inspect it\u2026")
        run_in_background(lambda: check_model_source(source), self._described, self._model_failed, self)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def _start_folder(self, kind: str) -> str:
        return self.folders.last_folder(kind) if self.folders is not None else ""

    def _used_folder(self, kind: str, folder: str) -> None:
        if self.folders is not None:
            self.folders.set_last_folder(kind, folder)

    def _browse_model(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a model folder (with config.json)",
                                                self._start_folder("models"))
        if path:
            self._used_folder("models", str(Path(path).parent))  # next time: beside this model, not inside it
            self.choose_model_folder(path)

    def _browse_data(self) -> None:
        from studio.widgets.task_choice import DATA_FILTERS, TASK_LABELS

        task = self.task()
        start = self._start_folder("data")
        if not start and task != "sequence-classification":  # a first file for a task: its example is there
            start = str(Path(__file__).resolve().parents[2] / "resources" / "examples" / "tasks")
        path, _ = QFileDialog.getOpenFileName(self, f"Choose a dataset for {TASK_LABELS[task]}", start,
                                              DATA_FILTERS[task])
        if path:
            self._used_folder("data", path)
            self.map_data_source(path)

    def _browse_data_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a dataset folder (saved with save_to_disk)",
                                                self._start_folder("data"))
        if path:
            self._used_folder("data", str(Path(path).parent))
            self.map_data_source(path)

    def map_data_source(self, path: str, current: DataRef | None = None):
        """Open the column-mapping dialog on ``path`` (non-blocking); OK there makes it the data. Returns it.

        The dialog starts from ``current`` (default: the data settings shown now) where its columns exist. Tags
        and questions have no columns to map: their file is read with the task's reader instead (None returned).
        """
        from studio.dialogs.column_mapping import ColumnMappingDialog
        from studio.widgets.task_choice import FILE_TASKS

        if self.task() in FILE_TASKS:
            self.check_task_data(path)
            return None
        dialog = ColumnMappingDialog(path, current or self.data_ref(), self, task=self.task())
        dialog.accepted.connect(lambda: self.apply_mapping(dialog.data_ref(), dialog.columns))
        dialog.rejected.connect(self._show_accepted_data)
        dialog.finished.connect(dialog.deleteLater)
        self.mapping_dialog = dialog
        dialog.open()
        return dialog

    def apply_mapping(self, ref: DataRef, columns: list[str]) -> None:
        """Use ``ref`` (a checked mapping of a file or folder with ``columns``) as the data."""
        self._mappings[ref.source] = self.mapping_of(ref)
        self._data_columns[ref.source] = list(columns)
        self._showing = True  # refilling the lists is no edit: the mapping is written once, below
        try:
            self._fill_columns(columns)
        finally:
            self._showing = False
        self.set_data_ref(ref)
        self.status.setText(f"Data: {ref.source} (text {ref.text_column!r}, label {ref.label_column!r})")
        self.dataAccepted.emit(ref.source)

    def _fill_columns(self, columns: list[str]) -> None:
        for box in (self.text_column, self.label_column):
            box.clear()
            box.addItems(columns)
        self.pair_column.clear()
        self.pair_column.addItems([""] + columns)

    def _start(self, message: str) -> None:
        self._pending += 1
        self.status.setText(message)
        self.busyChanged.emit(True)

    def _finish(self, message: str = "") -> None:
        self._pending = max(0, self._pending - 1)
        self.status.setText(message)
        self.busyChanged.emit(self.busy)

    @staticmethod
    def _model_line(info: dict) -> str:
        return f"Model: {info['model_type']}, {len(info['layers'])} layers, {info['parameters']:,} parameters"

    def _show_model(self) -> None:
        """The status line describes the model chosen now, never the one chosen before it."""
        if self.busy:
            return
        info = self._model_infos.get(self.model_box.currentData())
        self.status.setText(self._model_line(info) if info else f"Model: {self.model_box.currentText()}")

    def _model_ok(self, info: dict) -> None:
        self._model_infos[info["source"]] = info
        self._finish(self._model_line(info))
        self._select(self.model_box, info["source"], MODEL_LABELS)
        self.modelAccepted.emit(info)  # chosen, not inspected: the inspector opens with Inspect only

    def _described(self, info: dict) -> None:
        self._model_infos[info["source"]] = info
        self._finish(self._model_line(info) if info["source"] == self.model_box.currentData() else "")
        self.modelDescribed.emit(info)

    def _model_failed(self, exc: BaseException) -> None:
        self._finish("The model was not changed.")
        errors.report_exception(self, "This model cannot be used", exc)

    def _data_ok(self, result: tuple[str, list[str]]) -> None:
        path, columns = result
        self._data_columns[path] = list(columns)
        self._finish(f"Data: {len(columns)} columns ({', '.join(columns[:6])})")
        self._showing = True  # the lists are refilled first; the new data is written once, below
        try:
            self._select(self.data_box, path, DATA_LABELS)
            for box, guesses in ((self.text_column, _TEXT_GUESSES), (self.label_column, _LABEL_GUESSES)):
                current = box.currentText()
                box.clear()
                box.addItems(columns)
                pick = current if current in columns else next((g for g in guesses if g in columns), columns[0])
                box.setCurrentText(pick)
            self.pair_column.clear()
            self.pair_column.addItems([""] + columns)
        finally:
            self._showing = False
        self._write(self.recipe_model.set_data, replace(
            self.data_ref(), source=path, text_column=self.text_column.currentText().strip(),
            text_pair_column=None, label_column=self.label_column.currentText().strip()))
        self._mappings[path] = self.column_mapping()
        self._accepted_source = path
        self.dataAccepted.emit(path)

    def _data_failed(self, exc: BaseException) -> None:
        self._finish("The data was not changed.")
        self._show_accepted_data()
        errors.report_exception(self, "This dataset cannot be used", exc)
