"""The Study view's score and constraints: a built-in score or a formula, its floor or weights, the constraints.

The score is checked through :mod:`core.scoring` (via :func:`~studio.study.spec_builder.score_problem`);
its message (an unknown name, or the syntax error with its column) is shown under the formula.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QPlainTextEdit, QWidget

from studio.study.spec_builder import SCORES, WEIGHTED, ScoreChoice, score_labels, score_problem


PLACEHOLDER = "#9ca3af"  # light grey: an example, never mistaken for typed text
PLACEHOLDER_DISABLED = "#c4c8cf"  # lighter still while the study runs and the form is off


def grey_placeholder(widget: QWidget) -> None:
    """A placeholder in light grey in every state: some styles draw it in the disabled text colour, which reads
    as typed text once the form is disabled (the study running)."""
    palette = widget.palette()
    for group, colour in ((QPalette.ColorGroup.Active, PLACEHOLDER), (QPalette.ColorGroup.Inactive, PLACEHOLDER),
                          (QPalette.ColorGroup.Disabled, PLACEHOLDER_DISABLED)):
        palette.setColor(group, QPalette.ColorRole.PlaceholderText, QColor(colour))
    widget.setPalette(palette)


class ScoreBox(QGroupBox):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Score and constraints", parent)
        self.task: str | None = None  # the template recipe's task (set_task)
        self.constraints = QPlainTextEdit()
        self.constraints.setPlaceholderText("one per line, e.g.\nspeedup >= 1.5\naccuracy_retained >= 98 %")
        self.constraints.setMaximumHeight(64)
        grey_placeholder(self.constraints)
        self.score = QComboBox()
        # Long choices: the box elides them rather than widening the form past its column.
        self.score.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.score.setMinimumContentsLength(18)
        for text, value in SCORES:
            self.score.addItem(text, value)
            self.score.setItemData(self.score.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.formula = QLineEdit()
        self.formula.setPlaceholderText("e.g. speedup * accuracy_retained ** 4 if accuracy_retained >= 0.98 else -inf")
        grey_placeholder(self.formula)
        self.floor = QDoubleSpinBox()
        self.floor.setRange(1, 150)
        self.floor.setValue(98)
        self.floor.setSuffix(" % retained")
        self.weights: dict[str, QDoubleSpinBox] = {}
        weights_rows = QFormLayout()
        for key in WEIGHTED:
            spin = QDoubleSpinBox()
            spin.setRange(0, 10)
            spin.setSingleStep(0.5)
            spin.setValue(1)
            self.weights[key] = spin
            weights_rows.addRow(key.replace("_", " ").capitalize(), spin)
        self.weights_box = QWidget()
        self.weights_box.setLayout(weights_rows)
        self._weights_rows = weights_rows
        weights_rows.setContentsMargins(0, 0, 0, 0)
        self.score_error = QLabel("")
        self.score_error.setObjectName("score_error")
        self.score_error.setWordWrap(True)
        self.score_error.setStyleSheet("color: #b91c1c;")

        form = QFormLayout(self)
        form.addRow("Score", self.score)
        form.addRow("Formula", self.formula)
        form.addRow("Floor", self.floor)
        form.addRow("Weights", self.weights_box)
        form.addRow(self.score_error)
        form.addRow("Constraints", self.constraints)
        self._form = form

        self.score.currentIndexChanged.connect(self._score_changed)
        for signal in (self.formula.textChanged, self.constraints.textChanged, self.floor.valueChanged,
                       *(spin.valueChanged for spin in self.weights.values())):
            signal.connect(lambda *_: self.changed.emit())
        self._score_changed()

    def set_task(self, task: str | None) -> None:
        """The template recipe's task: the choices and examples name its retained figure instead of accuracy's."""
        from core.metrics.figures import label as figure_label
        from core.scoring import retained_figure

        self.task = task
        for i, label in enumerate(score_labels(task)):
            self.score.setItemText(i, label)
            self.score.setItemData(i, label, Qt.ItemDataRole.ToolTipRole)
        retained = retained_figure(task)
        self._weights_rows.labelForField(self.weights["accuracy_retained"]).setText(figure_label(retained))
        self.constraints.setPlaceholderText(f"one per line, e.g.\nspeedup >= 1.5\n{retained} >= 98 %")
        self.formula.setPlaceholderText(f"e.g. speedup * {retained} ** 4 if {retained} >= 0.98 else -inf")
        self.changed.emit()

    def set_score(self, kind: str, formula: str = "") -> None:
        self.score.setCurrentIndex(next(i for i, (_, v) in enumerate(SCORES) if v == kind))
        self.formula.setText(formula)

    def choice(self) -> ScoreChoice:
        return ScoreChoice(kind=self.score.currentData(), formula=self.formula.text(), floor_percent=self.floor.value(),
                           weights={k: s.value() for k, s in self.weights.items()}, task=self.task)

    def constraint_lines(self) -> list[str]:
        return self.constraints.toPlainText().splitlines()

    def check(self) -> str | None:
        """Show the score's problem under the formula (hidden when there is none) and return it."""
        problem = score_problem(self.choice())
        self.score_error.setText(problem or "")
        self.score_error.setVisible(bool(problem))
        return problem

    def _score_changed(self) -> None:
        kind = self.score.currentData()
        for widget, shown in ((self.formula, kind == "formula"), (self.floor, kind in ("fastest", "smallest")),
                              (self.weights_box, kind == "geomean")):
            widget.setVisible(shown)
            self._form.labelForField(widget).setVisible(shown)
        self.changed.emit()
