"""The filter row above the saved runs: text, model, status, a least speedup, and the score (as the CLI's
``runs --score``) with a least score. It decides which rows show; :class:`~studio.widgets.runs_list.RunsList`
hides the others."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from core.db.domain import RunSummary

SCORES = ("geomean", "fastest", "smallest")  # the built-ins; the box also takes a formula
ALL = "all"


def number(results: dict, key: str) -> float | None:
    """A figure as a float, or None when missing, not a number or NaN."""
    try:
        value = float(results.get(key))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


class RunsFilter(QWidget):
    """``filtersChanged`` when a filter changes; ``scoreChanged`` when a new score applies (the column changes)."""

    filtersChanged = Signal()
    scoreChanged = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QLineEdit()
        self.text.setPlaceholderText("Filter by name, stack or model")
        self.text.setClearButtonEnabled(True)
        self.model = QComboBox()
        self.model.setToolTip("Only the runs of this model")
        self.status = QComboBox()
        self.status.setToolTip("Only the runs with this status")
        self.min_speedup = QDoubleSpinBox()
        self.min_speedup.setRange(0.0, 1000.0)
        self.min_speedup.setSingleStep(0.1)
        self.min_speedup.setSpecialValueText("any")
        self.min_speedup.setPrefix("\u2265 ")
        self.min_speedup.setSuffix("x")
        self.min_speedup.setToolTip("Only the runs at least this much faster than their baseline (any: no limit)")
        self.score_box = QComboBox()
        self.score_box.setEditable(True)
        self.score_box.addItems(SCORES)
        self.score_box.setToolTip("The score column, as `bert-studio runs --score` computes it: geomean (of the run's "
                                  "retained figure: accuracy retained, or its task's, e.g. entity F1 retained; speedup "
                                  "and size ratio), fastest, smallest, or a formula over the figures, "
                                  "e.g. speedup * accuracy_retained ** 4 (Enter applies it)")
        for box in (self.model, self.score_box):  # a long model path or formula must not widen the window
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(12)
        self.min_score = QLineEdit()
        self.min_score.setPlaceholderText("any")
        self.min_score.setMaximumWidth(70)
        self.min_score.setToolTip("Only the runs that score at least this much (blank: no limit)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 2)
        for label, widget in (("Model", self.model), ("Status", self.status), ("Speedup", self.min_speedup),
                              ("Score", self.score_box), ("\u2265", self.min_score)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        self.score = None
        self.score_error = ""
        self.set_score("geomean")
        for signal in (self.text.textChanged, self.model.currentIndexChanged, self.status.currentIndexChanged,
                       self.min_speedup.valueChanged, self.min_score.textChanged):
            signal.connect(lambda *_: self.filtersChanged.emit())
        self.score_box.activated.connect(lambda _: self.set_score(self.score_box.currentText()))
        self.score_box.lineEdit().returnPressed.connect(lambda: self.set_score(self.score_box.currentText()))

    def set_score(self, text: str) -> bool:
        """Score the runs by ``text`` (a built-in or a formula); a bad formula keeps the last score and says why."""
        from core.errors import StudioError
        from core.scoring import run_scorer

        try:
            score = run_scorer(text.strip() or "geomean")
        except StudioError as exc:
            self.score_error = str(exc)
            self.score_box.setStyleSheet("QComboBox { border: 1px solid #dc2626; }")
            self.score_box.lineEdit().setToolTip(f"Not a score: {exc}")
            return False
        self.score, self.score_error = score, ""
        self.score_box.setStyleSheet("")
        self.score_box.lineEdit().setToolTip("")
        if self.score_box.currentText() != text:
            self.score_box.setCurrentText(text)
        self.scoreChanged.emit()
        return True

    def score_of(self, row: RunSummary) -> float:
        """The run's score; a built-in one (geomean, fastest, smallest) reads the run's task's retained figure."""
        return self.score(row.figures or {}) if self.score is not None else math.nan

    def fill_choices(self, rows: list[RunSummary]) -> None:
        """The model and status filters offer the values the runs have (a choice made stays, if still there)."""
        for box, values in ((self.model, sorted({r.model_source for r in rows})),
                            (self.status, sorted({r.status for r in rows}))):
            current = box.currentText() or ALL
            box.blockSignals(True)
            box.clear()
            box.addItems([ALL, *values])
            box.setCurrentIndex(max(0, box.findText(current)))
            box.blockSignals(False)

    def accepts(self, row: RunSummary) -> bool:
        """Whether ``row`` passes every filter."""
        text = self.text.text().strip().lower()
        if text and not any(text in (v or "").lower() for v in (row.name, row.stack, row.model_source, row.status,
                                                                row.id)):
            return False
        if self.model.currentText() not in (ALL, "", row.model_source) or \
                self.status.currentText() not in (ALL, "", row.status):
            return False
        least = self.min_speedup.value()
        speedup = number(row.figures or {}, "speedup")
        if least > 0 and (speedup is None or speedup < least):
            return False
        try:
            floor = float(self.min_score.text()) if self.min_score.text().strip() else None
        except ValueError:
            floor = None
        score = self.score_of(row)
        return floor is None or (score == score and score >= floor)
