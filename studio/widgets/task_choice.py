"""The task in the model-and-data panel: chosen, or detected from the model folder, and the data it needs.

A mixin of :class:`~studio.widgets.model_data_panel.ModelDataPanel`. A model folder fine-tuned for a task says
so in its ``config.json`` (:func:`core.models.task_head.folder_head`); choosing it sets the task, shown as
detected. A folder without a task head (the embedded default, the tiny model, a base checkpoint) takes the task
the user chooses. Choosing a task that contradicts the folder's head is refused with both named, and the choice
goes back. The panel shows each task's own data settings (columns for tables, the tag column and the word-piece
choice for tags, windows for questions) and checks, before Run is enabled, that the recipe's columns are in the
data read and that the task fits the model (:meth:`TaskChoiceMixin.data_problems`, a check of the recipe model).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QLabel, QLineEdit, QSpinBox

from core.errors import Problem
from core.tasks.kinds import TaskKind

SEQUENCE, TOKEN, QA, REGRESSION, MULTI = (k.value for k in TaskKind)
TASK_LABELS = {SEQUENCE: "classification", TOKEN: "token tags (NER)", QA: "question answering",
               REGRESSION: "regression", MULTI: "multi-label"}
TASK_HELP = {SEQUENCE: "a class per sentence or sentence pair",
             TOKEN: "a tag per word (token classification: NER, POS)",
             QA: "an answer span found in a context", REGRESSION: "a number per sentence (pair)",
             MULTI: "a set of labels per sentence"}
DATA_FILTERS = {
    SEQUENCE: "Tables (*.csv *.tsv *.json *.jsonl *.parquet);;All files (*)",
    TOKEN: "CoNLL or JSON Lines (*.conll *.txt *.iob *.bio *.tsv *.jsonl *.json);;All files (*)",
    QA: "SQuAD JSON or JSON Lines (*.json *.jsonl);;All files (*)",
    REGRESSION: "Tables with a score column (*.csv *.tsv *.json *.jsonl *.parquet);;All files (*)",
    MULTI: "Tables with label columns (*.csv *.tsv *.json *.jsonl *.parquet);;All files (*)",
}
PIECE_LABELS = {"first": "first piece", "all": "all pieces"}
SCALING_LABELS = {"none": "none", "standard": "standard", "minmax": "min-max"}
DEFAULT_COLUMNS = ["text", "label"]  # the embedded review sentences (core.data.default)
LABEL_ROW = {SEQUENCE: "Label column", REGRESSION: "Score column", MULTI: "Label list column"}
# The widgets (attribute names) each task shows in the data form.
ROWS = {
    SEQUENCE: ("text_column", "pair_column", "label_column"),
    TOKEN: ("tag_column", "label_pieces", "tags_label"),
    QA: ("doc_stride", "max_answer_length", "null_threshold"),
    REGRESSION: ("text_column", "pair_column", "label_column", "target_scaling"),
    MULTI: ("text_column", "pair_column", "label_column", "label_columns", "label_threshold"),
}
TASK_ROWS = tuple(dict.fromkeys(name for names in ROWS.values() for name in names))
FILE_TASKS = (TOKEN, QA)  # read with the task's reader, no columns to map


def check_task_file(ref, task: str) -> dict[str, Any]:
    """Read a token-classification or QA file as a run would (raises DataLoadError); a summary of it."""
    from core.data.kinds import load_task_splits

    ref = replace(ref, train_samples=None, validation_samples=None, test_samples=None)
    raw = load_task_splits(ref, task)
    total = sum(len(p) for p in raw.parts.values())
    if task == TOKEN:
        scheme = raw.extra.get("scheme")
        return {"text": f"{total:,} sentences, {len(raw.label_names)} tags", "tags": list(raw.label_names),
                "scheme": getattr(scheme, "value", str(scheme or "?"))}
    return {"text": f"{total:,} questions, {raw.extra.get('unanswerable', 0):,} of them unanswerable", "tags": [],
            "scheme": ""}


def header_columns(source: str) -> list[str] | None:
    """The columns a CSV / TSV file's first line names, or a JSON Lines file's first object has; None for any
    other source, or one that cannot be read (the run's loading then says why). Cheap: one line is read."""
    import csv
    import json
    from pathlib import Path

    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".jsonl") or not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            if suffix == ".jsonl":
                first = json.loads(next((line for line in fh if line.strip()), "{}"))
                return list(first) if isinstance(first, dict) and first else None
            row = next(csv.reader(fh, delimiter="\t" if suffix == ".tsv" else ","), None)
            return [c.strip() for c in row] if row else None
    except (OSError, UnicodeDecodeError, csv.Error, json.JSONDecodeError):
        return None


def tags_text(summary: dict | None, pieces: str) -> str:
    """``IOB2: O, B-PER, ... - tagged on each word's first piece`` for the Tags row."""
    if not summary or not summary.get("tags"):
        return "read when a file is chosen"
    where = "each word's first piece (its other pieces are ignored by the loss)" if pieces == "first" else \
        "every piece of each word"
    return f"{summary['scheme']}: {', '.join(summary['tags'])} \u2014 on {where}"


class TaskChoiceMixin:
    """The task combo box, the per-task data rows and the checks; the panel provides ``_combo``-made widgets."""

    def _build_task_widgets(self, combo) -> None:
        self.task_box = combo(TASK_LABELS)
        self.task_box.setToolTip("What the model predicts. Detected from a model folder fine-tuned for a task; "
                                 "chosen here for a model without a task head")
        for i, value in enumerate(TASK_LABELS):
            self.task_box.setItemData(i, TASK_HELP[value], Qt.ItemDataRole.ToolTipRole)
        self.task_note = ""  # why the task is what it is: detected from the folder, or chosen (the box's tooltip)
        self.tag_column = QSpinBox()
        self.tag_column.setRange(-20, 20)
        self.tag_column.setToolTip("CoNLL files: the column holding the tags (0 is the word, -1 the last)")
        self.label_pieces = combo(PIECE_LABELS)
        self.label_pieces.setToolTip("Which word pieces carry a word's tag: the first piece of each word (the others "
                                     "are ignored by the loss; conlleval counts words) or all of its pieces")
        self.tags_label = QLabel(tags_text(None, "first"))
        self.tags_label.setWordWrap(True)
        self.doc_stride = QSpinBox()
        self.doc_stride.setRange(0, 511)
        self.doc_stride.setToolTip("Tokens of context shared by consecutive windows of a long context")
        self.max_answer_length = QSpinBox()
        self.max_answer_length.setRange(1, 512)
        self.max_answer_length.setToolTip("The longest answer span searched, in tokens")
        self.null_threshold = QDoubleSpinBox()
        self.null_threshold.setRange(-100.0, 100.0)
        self.null_threshold.setSingleStep(0.5)
        self.null_threshold.setToolTip("Unanswerable questions (SQuAD v2): answer only when the best span beats "
                                       "no-answer by more than this (in logits)")
        self.target_scaling = combo(SCALING_LABELS)
        self.target_scaling.setToolTip("Scale the targets for training (training split's statistics: standard = mean "
                                       "0 and sd 1, min-max = 0 to 1); figures are in the data's own units")
        self.label_columns = QLineEdit()
        self.label_columns.setPlaceholderText("sports, music, food")
        self.label_columns.setToolTip("Two or more 0/1 columns, one per label, separated by commas; empty: the "
                                      "label list column holds each row's labels")
        self.label_threshold = QDoubleSpinBox()
        self.label_threshold.setRange(0.01, 0.99)
        self.label_threshold.setSingleStep(0.05)
        self.label_threshold.setToolTip("A label is predicted when its probability reaches this")
        self._heads: dict[str, dict] = {}  # model source -> folder_head (config.json only; cheap)
        self._data_columns: dict[str, list[str]] = {"default": list(DEFAULT_COLUMNS)}
        self._task_files: dict[tuple[str, str], dict] = {}  # (source, task) -> check_task_file's summary

    def _add_task_rows(self, form) -> None:
        """The task on top of the data form, each task's own rows below the label column (shown per task)."""
        form.insertRow(0, "Task", self.task_box)  # "Task (detected)" when the model folder says
        row = form.getWidgetPosition(self.label_column)[0] + 1
        for offset, (label, widget) in enumerate((
                ("Tag column", self.tag_column), ("Word pieces", self.label_pieces), ("Tags", self.tags_label),
                ("Doc stride", self.doc_stride), ("Max answer length", self.max_answer_length),
                ("No-answer threshold", self.null_threshold),
                ("Target scaling", self.target_scaling), ("0/1 label columns", self.label_columns),
                ("Threshold", self.label_threshold))):
            form.insertRow(row + offset, label, widget)
        self._form = form

    def _connect_task_widgets(self) -> None:
        data = self.recipe_model.set_data_field
        self.task_box.activated.connect(lambda _: self.choose_task(self.task_box.currentData()))
        self.tag_column.valueChanged.connect(lambda v: self._write(data, "tag_column", v))
        self.label_pieces.currentIndexChanged.connect(
            lambda _: self._write(data, "label_pieces", self.label_pieces.currentData()))
        self.label_pieces.currentIndexChanged.connect(lambda _: self._show_tags())
        self.doc_stride.valueChanged.connect(lambda v: self._write(data, "doc_stride", v))
        self.max_answer_length.valueChanged.connect(lambda v: self._write(data, "max_answer_length", v))
        self.null_threshold.valueChanged.connect(lambda v: self._write(data, "null_threshold", v))
        self.target_scaling.currentIndexChanged.connect(
            lambda _: self._write(data, "target_scaling", self.target_scaling.currentData()))
        self.label_columns.editingFinished.connect(
            lambda: self._write(data, "label_columns",
                                [c.strip() for c in self.label_columns.text().split(",") if c.strip()]))
        self.label_threshold.valueChanged.connect(lambda v: self._write(data, "label_threshold", v))
        self.recipe_model.add_check(self.data_problems)

    # -- the task --------------------------------------------------------
    def task(self) -> str:
        return self.recipe_model.recipe.task

    def model_head(self, source: str | None = None) -> dict:
        """What the model folder ``source`` (default: the recipe's) says about its head (cached)."""
        from core.models.task_head import folder_head

        source = source or self.recipe_model.recipe.model.source
        if source not in self._heads:
            self._heads[source] = folder_head(source)
        return self._heads[source]

    def choose_task(self, task: str) -> bool:
        """Make ``task`` the recipe's, unless the model's head is another task's: then say so and keep the task."""
        from studio.dialogs import errors

        head = self.model_head()
        if head["task"] and head["task"] != task:
            errors.show_error(self, "This task does not fit the model", self._contradiction(task, head))
            self._show_task()
            return False
        self._write(self.recipe_model.set_task, task)
        self._show_task()
        return True

    def _contradiction(self, task: str, head: dict) -> str:
        return (f"The task is {task}, but the model folder {self.recipe_model.recipe.model.source} holds a "
                f"{head['task']} model ({head['reason']}). Choose task {head['task']}, or a model without a task "
                f"head to fine-tune for {task}.")

    def _model_source_changed(self, source: str) -> None:
        """A model chosen by the user: a folder fine-tuned for a task sets the task (shown as detected)."""
        if self._showing:
            return
        head = self.model_head(source)
        if head["task"] and head["task"] != self.task():
            self._write(self.recipe_model.set_task, head["task"])
            self._show_task()
            shown = self.status.text()
            self.status.setText(f"{shown} \u2014 task {head['task']}, detected" if shown else self.task_note)
        else:
            self._show_task()

    def _show_task(self) -> None:
        """The task box, its note and the rows the task needs, from the recipe."""
        recipe = self.recipe_model.recipe
        task = recipe.task
        index = self.task_box.findData(task)
        if index >= 0:
            self.task_box.blockSignals(True)
            self.task_box.setCurrentIndex(index)
            self.task_box.blockSignals(False)
        from core.tasks.head_info import head_text

        head = self.model_head(recipe.model.source)
        if head["task"] == task:
            self.task_note = f"Detected from the model folder: {head['reason']} ({head_text(head)})."
        elif head["task"]:
            self.task_note = f"\u26a0 {self._contradiction(task, head)}"
        else:
            self.task_note = f"Chosen: {TASK_HELP[task]}. The model has no task head; a new one is made."
        self.task_box.setToolTip(self.task_note)
        task_label = self._form.labelForField(self.task_box)
        if task_label is not None:
            task_label.setText("Task (detected)" if head["task"] == task else "Task")
        for name in TASK_ROWS:
            self._form.setRowVisible(getattr(self, name), name in ROWS[task])
        label = self._form.labelForField(self.label_column)
        if label is not None:
            label.setText(LABEL_ROW.get(task, "Label column"))
        ref = recipe.data
        for widget, value in ((self.tag_column, ref.tag_column), (self.doc_stride, ref.doc_stride),
                              (self.max_answer_length, ref.max_answer_length),
                              (self.null_threshold, ref.null_threshold),
                              (self.label_threshold, ref.label_threshold)):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        for box, value in ((self.label_pieces, ref.label_pieces), (self.target_scaling, ref.target_scaling)):
            box.blockSignals(True)
            box.setCurrentIndex(max(0, box.findData(value)))
            box.blockSignals(False)
        self.label_columns.setText(", ".join(ref.label_columns))
        self._show_tags()

    def _show_tags(self) -> None:
        ref = self.recipe_model.recipe.data
        self.tags_label.setText(tags_text(self._task_files.get((ref.source, TOKEN)), ref.label_pieces))

    # -- data read with the task's reader (tags, questions) ----------------
    def check_task_data(self, path: str) -> None:
        """Read ``path`` with the task's reader off the GUI thread; it becomes the data only when it reads."""
        from studio.workers import run_in_background

        task = self.task()
        ref = replace(self.data_ref(), source=path)
        self._start(f"Reading {path} as {TASK_LABELS[task]} data\u2026")
        run_in_background(lambda: check_task_file(ref, task), lambda summary: self._task_file_ok(ref, task, summary),
                          self._data_failed, self)

    def _task_file_ok(self, ref, task: str, summary: dict) -> None:
        self._task_files[(ref.source, task)] = summary
        self._finish(f"Data: {ref.source} ({summary['text']})")
        self.set_data_ref(ref)
        self._show_task()
        self.dataAccepted.emit(ref.source)

    def use_default_data(self) -> None:
        """The embedded sentences again, with their own columns (not the previous file's)."""
        self._fill_columns(list(DEFAULT_COLUMNS))
        self.set_data_ref(replace(self.data_ref(), source="default", text_column="text", text_pair_column=None,
                                  label_column="label", label_columns=[]))
        self.status.setText("Data: the embedded review sentences (columns 'text' and 'label')")

    def form_label_text(self, widget) -> str:
        label = self._form.labelForField(widget)
        return label.text() if label is not None else ""

    def remember_columns(self, source: str, columns: list[str]) -> None:
        self._data_columns[source] = list(columns)
        self.recipe_model.revalidate()

    # -- checks before Run ---------------------------------------------------
    def data_problems(self, recipe) -> list[Problem]:
        """The task against the model's head, and the recipe's columns against the data read (when read)."""
        out = []
        task, data = recipe.task, recipe.data
        head = self.model_head(recipe.model.source)
        if head["task"] and head["task"] != task:
            out.append(Problem(self._contradiction(task, head), field="task"))
        if task != SEQUENCE and data.source == "default":
            out.append(Problem(f"the default data is review sentences for sentence classification; choose a "
                               f"{TASK_LABELS[task]} file (the examples are in resources/examples/tasks)",
                               field="data.source"))
            return out
        read_as = [t for (source, t) in self._task_files if source == data.source]
        if read_as and task not in read_as:
            out.append(Problem(f"{data.source} was read as {read_as[0]} data; choose a {TASK_LABELS[task]} file for "
                               f"task {task}", field="data.source"))
            return out
        if task in FILE_TASKS:
            return out
        if data.source not in self._data_columns:  # a recipe opened with its data: read the header once
            found = header_columns(data.source)
            if found is not None:
                self._data_columns[data.source] = found
        columns = self._data_columns.get(data.source)
        if columns is None:
            return out
        if len(columns) == 1:
            out.append(Problem(f"this file has one column ({columns[0]!r}); a label column is needed",
                               field="data.label_column"))
            return out
        labels = list(data.label_columns) if task == MULTI and data.label_columns else [data.label_column]
        for name, value in (("text_column", data.text_column), ("text_pair_column", data.text_pair_column),
                            *(("label_column", v) for v in labels)):
            if value and value not in columns:
                out.append(Problem(f"column {value!r} is not in the data; it has {', '.join(map(repr, columns))}",
                                   field=f"data.{name}"))
        return out


__all__ = ["DATA_FILTERS", "TASK_LABELS", "TaskChoiceMixin", "check_task_file", "tags_text"]
