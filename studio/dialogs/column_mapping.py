"""Map a dataset's columns onto the task: preview the first rows, pick the columns, see the label counts.

Reading the file and checking a mapping (:func:`core.data.task.load_splits`)
both run off the GUI thread; a check that finishes after the user changed the
mapping again is ignored. OK stays disabled until the mapping in the combo
boxes has been checked and found usable. The dialog is opened with
:meth:`QDialog.open` (window-modal, non-blocking), so tests drive it directly.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QListWidget,
                               QListWidgetItem, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from core.recipe import DataRef
from studio.workers import run_in_background

PREVIEW_ROWS = 20
TEXT_GUESSES = ("text", "sentence", "review", "content", "sentence1")
PAIR_GUESSES = ("text_pair", "sentence2")
LABEL_GUESSES = ("label", "labels", "category", "class", "target")
SCORE_GUESSES = ("score", "label", "target", "rating", "similarity")
ONE_COLUMN = "this file has one column; a label column is needed"
SEQUENCE, REGRESSION, MULTI = "sequence-classification", "regression", "multi-label"
LABEL_ROW = {SEQUENCE: ("Label column", "Label counts"), REGRESSION: ("Score column", "Scores"),
             MULTI: ("Label list column", "Label counts")}


def read_preview(source: str, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[dict], int]:
    """``(columns, first rows, row count)`` of ``source`` (its train split when it has splits)."""
    import datasets

    from core.data.sources import read_source

    ds = read_source(source)
    if isinstance(ds, datasets.DatasetDict):
        ds = ds["train"] if "train" in ds else next(iter(ds.values()))
    head = ds.select(range(min(rows, len(ds))))
    return list(ds.column_names), [dict(r) for r in head], len(ds)


def check_mapping(ref: DataRef) -> tuple[dict[str, int], tuple[str, ...]]:
    """Usable rows per label name over all splits, as training would see them, and the notes on what reading did
    to the rows (dropped, merged, read as text: :class:`core.data.diagnose.DataNote`); raises DataLoadError."""
    from core.data.task import read_splits

    splits = read_splits(ref)
    counts: Counter = Counter()
    for split in splits.parts.values():
        counts.update(split["label"])
    return {name: counts.get(i, 0) for i, name in enumerate(splits.label_names)}, tuple(map(str, splits.notes))


def check_task_mapping(ref: DataRef, task: str) -> tuple[dict[str, int | float], tuple[str, ...]]:
    """What a regression or multi-label mapping reads as (raises DataLoadError): rows and the targets' range, or
    the rows carrying each label; and the notes on what reading did to the rows, as :func:`check_mapping`."""
    from core.data.kinds import load_task_splits

    raw = load_task_splits(ref, task)
    if task == REGRESSION:
        targets = [v for part in raw.parts.values() for v in part["label"]]
        return ({"rows": len(targets), "lowest": min(targets), "highest": max(targets)},
                tuple(map(str, raw.notes)))
    counts = Counter()
    for part in raw.parts.values():
        for row in part["labels"]:
            counts.update(name for name, on in zip(raw.label_names, row) if on)
    return {name: counts.get(name, 0) for name in raw.label_names}, tuple(map(str, raw.notes))


def _count_text(counts: dict) -> str:
    return ", ".join(f"{name}: {n:,}" if isinstance(n, int) else f"{name}: {n:.3g}" for name, n in counts.items())


def _guess(columns: list[str], guesses: tuple[str, ...], fallback: str) -> str:
    return next((g for g in guesses if g in columns), fallback)


class ColumnMappingDialog(QDialog):
    """Choose the text, optional pair and label columns of ``source``; :meth:`data_ref` is the result."""

    previewReady = Signal()  # the first rows are in the table (or the file could not be read)
    checked = Signal()  # the current mapping was checked: see ``valid``, ``counts`` and ``error``

    def __init__(self, source: str, current: DataRef | None = None, parent: QWidget | None = None,
                 task: str = SEQUENCE):
        super().__init__(parent)
        self.setWindowTitle("Map the dataset's columns")
        self.task = task if task in LABEL_ROW else SEQUENCE
        self.source = source
        self._current = current or DataRef()
        self.columns: list[str] = []
        self.counts: dict[str, int] = {}
        self.notes: tuple[str, ...] = ()  # what the check did to the rows (dropped, merged, read as text)
        self.error = ""
        self.valid = False
        self._generation = 0
        self.summary = QLabel(f"Reading {source}\u2026")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.text_column, self.pair_column, self.label_column = QComboBox(), QComboBox(), QComboBox()
        self.counts_label = QLabel("")
        self.counts_label.setWordWrap(True)
        self.notes_label = QLabel("")
        self.notes_label.setWordWrap(True)
        self.notes_label.hide()
        self.error_label = QLabel("")
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(False)
        # Multi-label: two or more 0/1 columns, one per label, instead of one column holding each row's list.
        self.label_columns = QListWidget()
        self.label_columns.setToolTip("Tick two or more 0/1 columns (one per label); none ticked: the label list "
                                      "column holds each row's labels")
        self.label_columns.setMaximumHeight(110)
        form = QFormLayout()
        form.addRow("Text column", self.text_column)
        form.addRow("Second text column", self.pair_column)
        form.addRow(LABEL_ROW[self.task][0], self.label_column)
        form.addRow("0/1 label columns", self.label_columns)
        form.addRow(LABEL_ROW[self.task][1], self.counts_label)
        form.setRowVisible(self.label_columns, self.task == MULTI)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addLayout(form)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for box in (self.text_column, self.pair_column, self.label_column):
            box.currentIndexChanged.connect(lambda _: self._mapping_changed())
        self.label_columns.itemChanged.connect(lambda _: self._mapping_changed())
        self.setTabOrder(self.text_column, self.pair_column)
        self.setTabOrder(self.pair_column, self.label_column)
        self.resize(720, 520)
        run_in_background(lambda: read_preview(source), self._preview_ok, self._preview_failed, self)

    def data_ref(self) -> DataRef:
        """The current data settings with this source and the chosen columns."""
        ticked = [self.label_columns.item(i).text() for i in range(self.label_columns.count())
                  if self.label_columns.item(i).checkState() == Qt.CheckState.Checked]
        return dataclasses.replace(self._current, source=self.source, text_column=self.text_column.currentText(),
                                   text_pair_column=self.pair_column.currentData() or None,
                                   label_column=self.label_column.currentText(),
                                   label_columns=ticked if self.task == MULTI else list(self._current.label_columns))

    def accept(self) -> None:
        if self.valid:  # Enter on an invalid mapping does nothing, like the disabled button
            super().accept()

    # -- reading -------------------------------------------------------
    def _preview_ok(self, result: tuple[list[str], list[dict], int]) -> None:
        columns, rows, total = result
        self.columns = columns
        self.summary.setText(f"{self.source}: {total:,} rows, {len(columns)} columns (first {len(rows)} shown)")
        self.table.setColumnCount(len(columns))
        self.table.setHorizontalHeaderLabels(columns)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, name in enumerate(columns):
                self.table.setItem(r, c, QTableWidgetItem(str(row.get(name, ""))))
        current = self._current
        boxes = (self.text_column, self.pair_column, self.label_column)
        for box in boxes:
            box.blockSignals(True)
        self.text_column.addItems(columns)
        self.pair_column.addItem("(none)", "")
        for name in columns:
            self.pair_column.addItem(name, name)
        self.label_column.addItems(columns)
        pick = lambda value, guesses, fallback: value if value in columns else _guess(columns, guesses, fallback)
        self.text_column.setCurrentText(pick(current.text_column, TEXT_GUESSES, columns[0]))
        guesses = SCORE_GUESSES if self.task == REGRESSION else LABEL_GUESSES
        self.label_column.setCurrentText(pick(current.label_column, guesses, columns[-1]))
        if self.task == MULTI:
            self._fill_label_columns(columns, rows)
        pair = pick(current.text_pair_column, PAIR_GUESSES, "")
        self.pair_column.setCurrentIndex(max(0, self.pair_column.findData(pair)))
        for box in boxes:
            box.blockSignals(False)
        self.previewReady.emit()
        self._mapping_changed()

    def _fill_label_columns(self, columns: list[str], rows: list[dict]) -> None:
        """The 0/1 columns ticked: the recipe's, else every column whose first rows are all 0 or 1."""
        self.label_columns.blockSignals(True)
        chosen = [c for c in self._current.label_columns if c in columns]
        text = self.text_column.currentText()
        for name in columns:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            binary = bool(rows) and all(str(r.get(name)) in ("0", "1", "0.0", "1.0", "True", "False") for r in rows)
            on = name in chosen if chosen else (binary and name != text)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.label_columns.addItem(item)
        self.label_columns.blockSignals(False)

    def _preview_failed(self, exc: BaseException) -> None:
        self.summary.setText("The data could not be read.")
        self._show_error(str(exc))
        self.previewReady.emit()

    # -- checking ------------------------------------------------------
    def _mapping_changed(self) -> None:
        self._generation += 1
        generation = self._generation
        self.valid = False
        self.ok_button.setEnabled(False)
        ref = self.data_ref()
        several = self.task == MULTI and bool(ref.label_columns)
        label = None if several else ref.label_column
        problem = ""
        if len(self.columns) == 1:
            problem = ONE_COLUMN
        elif ref.text_column == label or (ref.text_pair_column and ref.text_pair_column in (ref.text_column, label)):
            problem = "the text, second text and label columns must be different columns"
        elif several and {ref.text_column, ref.text_pair_column} & set(ref.label_columns):
            problem = "a text column cannot also be a label column"
        if problem:
            self.counts = {}
            self.counts_label.setText("")
            self._show_error(problem)
            self.checked.emit()
            return
        self.counts_label.setText("checking\u2026")
        # The caps do not matter for the check and would hide rows from the counts.
        ref = dataclasses.replace(ref, train_samples=None, validation_samples=None, test_samples=None)
        task = self.task
        check = (lambda: check_mapping(ref)) if task == SEQUENCE else (lambda: check_task_mapping(ref, task))
        run_in_background(check, lambda found: self._checked(generation, found, ""),
                          lambda exc: self._checked(generation, ({}, ()), str(exc)), self)

    def _checked(self, generation: int, found: tuple[dict[str, int], tuple[str, ...]], error: str) -> None:
        if generation != self._generation:
            return  # the user changed the mapping while this check ran
        counts, self.notes = found
        self.counts = counts
        self.notes_label.setText("\n".join(f"\u2139 {note}" for note in self.notes))
        self.notes_label.setVisible(bool(self.notes))
        self.valid = not error
        self.counts_label.setText(_count_text(counts))
        if error:
            self._show_error(error)
        else:
            self.error = ""
            self.error_label.hide()
        self.ok_button.setEnabled(self.valid)
        self.checked.emit()

    def _show_error(self, message: str) -> None:
        self.error = message
        self.valid = False
        self.error_label.setText(f"\u26a0 {message}")
        self.error_label.show()
        self.ok_button.setEnabled(False)
