"""Choose the model and the data: the embedded defaults, a model folder, a dataset file.

A folder or file the user picks is checked in the background before it is
accepted (:mod:`studio.widgets.source_checks`); if it is not usable, an error dialog explains why
and the previous choice stays in place. Recent data sources remember their columns
(:mod:`studio.widgets.recent_data`). What the panel shows is the recipe model's model, data and
device: each widget writes its value to the :class:`~studio.recipe_model.RecipeModel`,
and a recipe opened elsewhere is shown from it.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from core.recipe import DataRef, ModelRef
from studio.recipe_model import RecipeModel
from studio.widgets.recent_data import DATA_LABELS, RecentDataMixin
from studio.widgets.source_checks import MODEL_LABELS, MODEL_TIPS, SourceChecksMixin, check_model_source  # noqa: F401
from studio.widgets.task_choice import TaskChoiceMixin

DEVICE_LABELS = {"auto": "auto (GPU if any)", "cpu": "cpu", "cuda": "cuda (NVIDIA)"}
_NO_CUDA = "PyTorch sees no CUDA GPU on this machine"


class FitComboBox(QComboBox):
    """A combo box as wide as its own labels and no wider: none is cut ("default (embedded all-MiniL"), and a long
    folder path added later does not widen the dock past the screen (it shows whole in the popup and tooltip)."""

    def __init__(self, labels: list[str]):
        super().__init__()
        self._labels = list(labels)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(0)  # the hints below add the text to the frame and arrow

    def _fit(self, hint):
        widest = max((self.fontMetrics().horizontalAdvance(label) for label in self._labels), default=0)
        hint.setWidth(hint.width() + widest + 4)
        return hint

    def minimumSizeHint(self):
        return self._fit(super().minimumSizeHint())

    def sizeHint(self):
        return self._fit(super().sizeHint())


def _combo(items: dict[str, str]) -> QComboBox:
    box = FitComboBox(list(items.values()))
    box.setEditable(False)
    for value, label in items.items():
        box.addItem(label, value)
    return box


def _cap_spin() -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(0, 10_000_000)
    spin.setSpecialValueText("all")
    spin.setSingleStep(100)
    return spin


class ModelDataPanel(TaskChoiceMixin, SourceChecksMixin, RecentDataMixin, QWidget):
    """Edits the recipe model's :class:`ModelRef`, :class:`DataRef` and device (its own model when none is given)."""

    changed = Signal()
    modelDescribed = Signal(object)  # dict from check_model_source, asked for with Inspect
    modelAccepted = Signal(object)  # the same for a model folder that was checked and chosen (not inspected)
    busyChanged = Signal(bool)
    dataAccepted = Signal(str)  # a dataset file that was read successfully (for the recent list)
    deviceChanged = Signal(str)
    processesChanged = Signal(int)

    def __init__(self, model: RecipeModel | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.recipe_model = model if model is not None else RecipeModel(parent=self)
        self._showing = False  # the widgets are being set from the model: nothing to write back
        self._writing = False  # a widget is writing to the model: no need to show the model again
        self.model_box = _combo(MODEL_LABELS)
        self.model_browse = QPushButton("Folder\u2026")
        self.inspect_button = QPushButton("Inspect")
        for value, tip in MODEL_TIPS.items():
            self.model_box.setItemData(self.model_box.findData(value), tip, Qt.ItemDataRole.ToolTipRole)
        self.data_box = _combo(DATA_LABELS)
        self.data_box.setItemData(0, "The embedded movie-review sentences (positive or negative)",
                                  Qt.ItemDataRole.ToolTipRole)
        self.data_browse = QPushButton("File\u2026")
        self.data_folder = QPushButton("Folder\u2026")
        self.data_folder.setToolTip("A dataset folder written by datasets' save_to_disk")
        self.mapping_dialog = None  # the column-mapping dialog open now, if any
        self.folders = None  # the StudioSettings that remember where file dialogs start (set by the window)
        self.text_column = QComboBox()
        self.pair_column = QComboBox()
        self.label_column = QComboBox()
        for box in (self.text_column, self.pair_column, self.label_column):
            box.setEditable(True)
        self.text_column.addItem("text")
        self.pair_column.addItem("")
        self.label_column.addItem("label")
        self.max_length = QSpinBox()
        self.max_length.setRange(8, 512)
        self.max_length.setValue(64)
        self.train_cap, self.val_cap, self.test_cap = _cap_spin(), _cap_spin(), _cap_spin()
        self._build_task_widgets(_combo)
        tips = {
            self.model_box: "The model to compress: the embedded MiniLM, a tiny random one for quick checks, or a "
                            "folder added with Folder\u2026",
            self.model_browse: "A Hugging Face model folder (config.json and weights)",
            self.inspect_button: "Layers, heads, sizes and parameters of the chosen model",
            self.data_box: "The labelled sentences to train and evaluate on; a recent file reopens with the columns "
                           "chosen for it",
            self.data_browse: "A CSV, TSV, JSON(L) or Parquet file; a dialog then maps its columns",
            self.text_column: "The column holding the sentence to classify",
            self.pair_column: "For sentence-pair tasks (such as entailment): the column with the second sentence; "
                              "empty for single sentences",
            self.label_column: "The column holding the class of each row (names or integers)",
            self.max_length: "Sentences are cut to this many tokens; shorter is faster",
            self.train_cap: "Use at most this many training rows (\u201call\u201d: every row)",
            self.val_cap: "Validation rows, used for the validation curve during training (accuracy, or the task's "
                           "headline figure; \u201call\u201d: every row)",
            self.test_cap: "Test rows, used for the final figures and speed (\u201call\u201d: every row)",
        }
        for widget, tip in tips.items():
            widget.setToolTip(tip)
        self.device_box = _combo(DEVICE_LABELS)
        self.device_box.setToolTip("Where runs train and are measured; auto takes a CUDA GPU when PyTorch sees one")
        self.processes_box = QSpinBox()
        self.processes_box.setRange(1, 1024)
        self.processes_box.setToolTip("Processes for one data-parallel run (usually one per GPU). 1 runs in the "
                                      "studio's worker; more: Run starts that many local processes under torchrun "
                                      "(Run > Run on several processes... shows the command for a cluster)")
        # Until the libraries are loaded (see set_cuda_available) CUDA is unknown: importing torch here would
        # freeze the window at start-up.
        self._set_cuda_item(False, "Checking for a CUDA GPU\u2026")
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)

        model_group = QGroupBox("Model")
        mrow = QHBoxLayout()
        mrow.addWidget(self.model_box, 1)
        mrow.addWidget(self.model_browse)
        mrow.addWidget(self.inspect_button)
        mlayout = QVBoxLayout(model_group)
        mlayout.addLayout(mrow)
        device_row = QHBoxLayout()
        device_row.addWidget(QLabel("Device"))
        device_row.addWidget(self.device_box, 1)
        device_row.addWidget(QLabel("Processes"))
        device_row.addWidget(self.processes_box)
        mlayout.addLayout(device_row)
        data_group = QGroupBox("Data")
        drow = QHBoxLayout()
        drow.addWidget(self.data_box, 1)
        drow.addWidget(self.data_browse)
        drow.addWidget(self.data_folder)
        form = QFormLayout()
        form.addRow("Text column", self.text_column)
        form.addRow("Second text column", self.pair_column)
        form.addRow("Label column", self.label_column)
        form.addRow("Max length", self.max_length)
        form.addRow("Train samples", self.train_cap)
        form.addRow("Validation samples", self.val_cap)
        form.addRow("Test samples", self.test_cap)
        self._add_task_rows(form)
        dlayout = QVBoxLayout(data_group)
        dlayout.addLayout(drow)
        dlayout.addLayout(form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(model_group)
        layout.addWidget(data_group)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.model_browse.clicked.connect(self._browse_model)
        self.data_browse.clicked.connect(self._browse_data)
        self.data_folder.clicked.connect(self._browse_data_folder)
        self.inspect_button.clicked.connect(self.inspect_model)
        data = self.recipe_model.set_data_field
        self.model_box.currentIndexChanged.connect(
            lambda _: self._write(self.recipe_model.set_model_source, self.model_box.currentData()))
        self.data_box.currentIndexChanged.connect(lambda _: self._write(data, "source", self.data_box.currentData()))
        self.model_box.currentIndexChanged.connect(lambda _: self._show_model())
        self.model_box.currentIndexChanged.connect(lambda _: self._model_source_changed(self.model_box.currentData()))
        self._model_infos: dict[str, dict] = {}  # model source -> what loading it described
        self.data_box.activated.connect(self._data_picked)
        self.device_box.currentIndexChanged.connect(lambda _: self._device_changed())
        self.processes_box.valueChanged.connect(self.processesChanged.emit)
        for box, name in ((self.text_column, "text_column"), (self.label_column, "label_column")):
            box.currentTextChanged.connect(lambda text, n=name: self._write(data, n, text.strip()))
        self.pair_column.currentTextChanged.connect(
            lambda text: self._write(data, "text_pair_column", text.strip() or None))
        self.max_length.valueChanged.connect(lambda v: self._write(data, "max_length", v))
        for spin, name in ((self.train_cap, "train_samples"), (self.val_cap, "validation_samples"),
                           (self.test_cap, "test_samples")):
            spin.valueChanged.connect(lambda v, n=name: self._write(data, n, v or None))  # 0 reads "all"
        self.recipe_model.inputsChanged.connect(self._inputs_changed)
        self.recipe_model.replaced.connect(self._inputs_changed)
        self._pending = 0
        self._accepted_source = self.recipe_model.recipe.data.source  # the data in use, whatever the list shows
        self._mappings: dict[str, dict] = {}  # data source -> the columns last accepted for it
        self._connect_task_widgets()
        # Reading order: the device row was built after the data widgets, so the default chain would end there.
        chain = self.focus_chain()
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)
        self._show_inputs()

    def focus_chain(self) -> list[QWidget]:
        """The panel's inputs in reading order (top to bottom, left to right): the Tab order."""
        return [self.model_box, self.model_browse, self.inspect_button, self.device_box, self.processes_box,
                self.data_box, self.data_browse, self.data_folder, self.task_box, self.text_column,
                self.pair_column, self.label_column, self.tag_column, self.label_pieces, self.doc_stride,
                self.max_answer_length, self.null_threshold, self.target_scaling, self.label_columns,
                self.label_threshold, self.max_length, self.train_cap, self.val_cap, self.test_cap]

    # -- recipe parts (the model's; copies) --------------------------------
    def model_ref(self) -> ModelRef:
        return replace(self.recipe_model.recipe.model)

    def data_ref(self) -> DataRef:
        return replace(self.recipe_model.recipe.data)

    def device(self) -> str:
        return self.recipe_model.recipe.device

    def processes(self) -> int:
        """Processes per node for a data-parallel run; 1 runs in the studio's own worker."""
        return self.processes_box.value()

    def set_processes(self, processes: int) -> None:
        self.processes_box.setValue(max(1, int(processes)))

    def set_device(self, device: str) -> None:
        """Show ``device`` (auto, cpu, cuda or cuda:N); a recipe's cuda stays chosen even without a GPU here."""
        self._select(self.device_box, device, DEVICE_LABELS)

    def set_cuda_available(self, available: bool) -> None:
        self._set_cuda_item(available, "" if available else _NO_CUDA)

    def _set_cuda_item(self, enabled: bool, tooltip: str) -> None:
        index = self.device_box.findData("cuda")
        self.device_box.model().item(index).setEnabled(enabled)
        self.device_box.setItemData(index, tooltip or None, Qt.ItemDataRole.ToolTipRole)

    def _device_changed(self) -> None:
        device = self.device_box.currentData()
        self._write(self.recipe_model.set_device, device)
        self.deviceChanged.emit(device)  # a recipe's device too: it is remembered for the next start

    def set_model_ref(self, ref: ModelRef) -> None:
        self.recipe_model.set_model_source(ref.source)

    def set_data_ref(self, ref: DataRef) -> None:
        self._write(self.recipe_model.set_data, ref)
        self._show_inputs()  # also when the model had this data already and a list was refilled meanwhile

    # -- the model's inputs shown, widgets' edits written -------------------
    def _write(self, setter, *args) -> None:
        if self._showing:
            return
        self._writing = True
        try:
            setter(*args)
        finally:
            self._writing = False

    def _inputs_changed(self) -> None:
        if not self._writing:
            self._show_inputs()
        self.changed.emit()

    def _show_inputs(self) -> None:
        """Set the widgets to the model's model, data and device."""
        recipe = self.recipe_model.recipe
        ref = recipe.data
        self._showing = True
        try:
            self._select(self.model_box, recipe.model.source, MODEL_LABELS)
            self._accepted_source = ref.source
            self._select(self.data_box, ref.source, DATA_LABELS)
            self.text_column.setCurrentText(ref.text_column)
            self.pair_column.setCurrentText(ref.text_pair_column or "")
            self.label_column.setCurrentText(ref.label_column)
            self.max_length.setValue(ref.max_length)
            self.train_cap.setValue(ref.train_samples or 0)
            self.val_cap.setValue(ref.validation_samples or 0)
            self.test_cap.setValue(ref.test_samples or 0)
            self.set_device(recipe.device)
            self._show_task()
        finally:
            self._showing = False

    @staticmethod
    def _select(box: QComboBox, value: str, labels: dict[str, str]) -> None:
        index = box.findData(value)
        if index < 0:
            box.addItem(labels.get(value, value), value)
            index = box.count() - 1
        box.setCurrentIndex(index)
