"""The Study view's form: the kind of study, what varies, the constraints, the score, the budget, the workers.

Every change re-validates through :class:`core.study.spec.StudySpec` (the very check the CLI makes) and
the score through :mod:`core.scoring`, whose message (naming an unknown name, or the syntax error with
its column) is shown under the formula; Start stays disabled while anything is wrong.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton, QSizePolicy,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from core.errors import StudioError
from core.recipe import Recipe
from core.study.spec import StudyError, StudySpec
from studio.study.spec_builder import (SCORES, WEIGHTED, GridRow, RangeRow, ScoreChoice, StudyForm, default_name,
                                       score_problem, searchable_settings)

KINDS = (("Order and interaction", "order"), ("Search (Optuna)", "search"), ("Grid of variants", "grid"))
ORDER_HINT = "Tick 2 to 4 steps: each runs alone, then every order of them, all from one cached teacher."


def _hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def _checklist() -> QListWidget:
    box = QListWidget()
    box.setMaximumHeight(130)
    return box


class _Pages(QWidget):
    """One page shown at a time, sized to that page (a QStackedWidget keeps the height of its tallest page)."""

    def __init__(self):
        super().__init__()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._pages: list[QWidget] = []
        self._current = 0

    def addWidget(self, page: QWidget) -> None:
        self._pages.append(page)
        self._layout.addWidget(page)
        page.setVisible(len(self._pages) - 1 == self._current)

    def setCurrentIndex(self, index: int) -> None:
        self._current = index
        for i, page in enumerate(self._pages):
            page.setVisible(i == index)

    def currentIndex(self) -> int:
        return self._current

    def count(self) -> int:
        return len(self._pages)

    def widget(self, index: int) -> QWidget:
        return self._pages[index]


class StudySetup(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.recipe = Recipe()
        self.current_problems: list[str] = []  # as of the last validate()
        self._filling = False
        self.kind = QComboBox()
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for text, value in KINDS:
            self.kind.addItem(text, value)
        self.name = QLineEdit()
        self.pages = _Pages()
        self.pages.addWidget(self._order_page())
        self.pages.addWidget(self._search_page())
        self.pages.addWidget(self._grid_page())
        self.constraints = QPlainTextEdit()
        self.constraints.setPlaceholderText("one per line, e.g.\nspeedup >= 1.5\naccuracy_retained >= 98 %")
        self.constraints.setMaximumHeight(64)
        self.score = QComboBox()
        # Long choices: the box elides them rather than widening the form past its column.
        self.score.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.score.setMinimumContentsLength(18)
        for text, value in SCORES:
            self.score.addItem(text, value)
            self.score.setItemData(self.score.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self.formula = QLineEdit()
        self.formula.setPlaceholderText("e.g. speedup * accuracy_retained ** 4 if accuracy_retained >= 0.98 else -inf")
        self.floor = QDoubleSpinBox()
        self.floor.setRange(1, 150)
        self.floor.setValue(98)
        self.floor.setSuffix(" % retained")
        self.weights = {}
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
        weights_rows.setContentsMargins(0, 0, 0, 0)
        self.score_error = QLabel("")
        self.score_error.setObjectName("score_error")
        self.score_error.setWordWrap(True)
        self.score_error.setStyleSheet("color: #b91c1c;")
        self.trials = QSpinBox()
        self.trials.setRange(0, 10000)
        self.trials.setSpecialValueText("all planned")
        self.seconds = QSpinBox()
        self.seconds.setRange(0, 7 * 24 * 3600)
        self.seconds.setSingleStep(60)
        self.seconds.setSpecialValueText("no limit")
        self.seconds.setSuffix(" s")
        self.workers = QSpinBox()
        self.workers.setRange(1, 8)
        self.workers.setToolTip("Trials run at once in this studio; more workers can join from the command line "
                                "(bert-studio study worker ID) on this or other machines sharing the database")
        self.problems = QLabel("")
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)

        what = QGroupBox("What varies")
        # Its lists would take every spare pixel; the spare height goes under the form instead.
        what.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        what_layout = QVBoxLayout(what)
        what_layout.addWidget(self.pages)
        score_box = QGroupBox("Score and constraints")
        score_form = QFormLayout(score_box)
        score_form.addRow("Score", self.score)
        score_form.addRow("Formula", self.formula)
        score_form.addRow("Floor", self.floor)
        score_form.addRow("Weights", self.weights_box)
        score_form.addRow(self.score_error)
        score_form.addRow("Constraints", self.constraints)
        self._score_form = score_form
        budget = QGroupBox("Budget")
        budget_form = QFormLayout(budget)
        budget_form.addRow("Trials", self.trials)
        budget_form.addRow("Time", self.seconds)
        budget_form.addRow("Parallel workers", self.workers)
        top = QFormLayout()
        top.addRow("Study", self.kind)
        top.addRow("Name", self.name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(what)
        layout.addWidget(score_box)
        layout.addWidget(budget)
        layout.addWidget(self.problems)
        layout.addStretch(1)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.score.currentIndexChanged.connect(self._score_changed)
        for signal in (self.name.textChanged, self.formula.textChanged, self.constraints.textChanged,
                       self.floor.valueChanged, self.trials.valueChanged, self.seconds.valueChanged,
                       self.order_steps.itemChanged, self.optional.itemChanged, self.sampler.currentIndexChanged,
                       self.ranges.itemChanged, self.variants.itemChanged,
                       *(spin.valueChanged for spin in self.weights.values())):
            signal.connect(self._emit_changed)
        self._score_changed()
        self._kind_changed()

    # -- pages -----------------------------------------------------------------------------
    def _order_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.order_steps = _checklist()
        self.order_steps.setMaximumHeight(170)
        layout.addWidget(_hint(ORDER_HINT))
        layout.addWidget(self.order_steps)
        return page

    def _search_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.ranges, buttons = self._row_table(["Step", "Setting", "Low", "High", "or choices"], "Add range",
                                               lambda: self.add_range())
        self.ranges.setToolTip("A number range (low, high), or comma-separated choices such as 4, 8")
        self.optional = _checklist()
        self.sampler = QComboBox()
        self.sampler.addItem("TPE (one score)", "tpe")
        self.sampler.addItem("NSGA-II (several objectives)", "nsga2")
        layout.addWidget(_hint("Settings to range over:"))
        layout.addWidget(self.ranges, 1)
        layout.addLayout(buttons)
        layout.addWidget(_hint("Optional steps (a trial may leave them out):"))
        layout.addWidget(self.optional)
        row = QFormLayout()
        row.addRow("Sampler", self.sampler)
        layout.addLayout(row)
        return page

    def _grid_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.variants, buttons = self._row_table(["Name", "Settings (step.setting=value, ...)", "Leave out steps"],
                                                 "Add variant", lambda: self.add_variant())
        layout.addWidget(_hint("Each variant is the stack with some settings changed or steps left out, "
                               "e.g. settings 2.amount=0.3, leave out 4."))
        layout.addWidget(self.variants, 1)
        layout.addLayout(buttons)
        return page

    # -- the template -----------------------------------------------------------------------
    def set_template(self, recipe: Recipe) -> None:
        """Start from ``recipe`` (the current stack): its steps fill the lists; choices that no longer fit go."""
        self._filling = True
        self.recipe = recipe.copy()
        for box in (self.order_steps, self.optional):
            box.clear()
            for n, step in enumerate(self.recipe.steps, 1):
                item = QListWidgetItem(f"{n}. {step.title()}")
                item.setData(Qt.ItemDataRole.UserRole, n)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                box.addItem(item)
        self.ranges.setRowCount(0)
        self.variants.setRowCount(0)
        self._filling = False
        self._emit_changed()

    def step_numbers(self) -> list[int]:
        return list(range(1, len(self.recipe.steps) + 1))

    def set_kind(self, kind: str) -> None:
        self.kind.setCurrentIndex(next(i for i, (_, v) in enumerate(KINDS) if v == kind))

    def check_steps(self, box: QListWidget, numbers: list[int]) -> None:
        for i in range(box.count()):
            item = box.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in numbers
                               else Qt.CheckState.Unchecked)

    def set_score(self, kind: str, formula: str = "") -> None:
        self.score.setCurrentIndex(next(i for i, (_, v) in enumerate(SCORES) if v == kind))
        self.formula.setText(formula)

    def add_range(self, step: int | None = None, setting: str | None = None, low=None, high=None,
                  choices: str = "") -> int:
        row = self.ranges.rowCount()
        self._filling = True
        self.ranges.insertRow(row)
        steps = QComboBox()
        for n, s in enumerate(self.recipe.steps, 1):
            steps.addItem(f"{n}. {s.title()}", n)
        settings = QComboBox()
        self.ranges.setCellWidget(row, 0, steps)
        self.ranges.setCellWidget(row, 1, settings)
        for col, value in ((2, low), (3, high), (4, choices)):
            self.ranges.setItem(row, col, QTableWidgetItem("" if value is None else str(value)))

        def fill_settings() -> None:
            settings.clear()
            for info in searchable_settings(self.recipe, steps.currentData() or 0):
                settings.addItem(info.name, info.name)
                settings.setItemData(settings.count() - 1, info.help, Qt.ItemDataRole.ToolTipRole)
        steps.currentIndexChanged.connect(fill_settings)
        steps.currentIndexChanged.connect(self._emit_changed)
        settings.currentIndexChanged.connect(self._emit_changed)
        if step is not None:
            steps.setCurrentIndex(max(0, steps.findData(step)))
        fill_settings()
        if setting is not None:
            settings.setCurrentIndex(max(0, settings.findData(setting)))
        self._filling = False
        self._emit_changed()
        return row

    def add_variant(self, name: str | None = None, settings: str = "", skip: str = "") -> int:
        row = self.variants.rowCount()
        self._filling = True
        self.variants.insertRow(row)
        for col, text in enumerate((name or f"variant {row + 1}", settings, skip)):
            self.variants.setItem(row, col, QTableWidgetItem(text))
        self._filling = False
        self._emit_changed()
        return row

    def _row_table(self, headers: list[str], add_label: str, add) -> tuple[QTableWidget, QHBoxLayout]:
        """An editable table of rows with its Add and Remove buttons (search ranges, grid variants)."""
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().hide()
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        add_button, remove = QPushButton(add_label), QPushButton("Remove")
        add_button.clicked.connect(add)
        remove.clicked.connect(lambda: self._remove_row(table))
        buttons = QHBoxLayout()
        buttons.addWidget(add_button)
        buttons.addWidget(remove)
        buttons.addStretch()
        return table, buttons

    def _remove_row(self, table: QTableWidget) -> None:
        rows = sorted({i.row() for i in table.selectedIndexes()} or {table.rowCount() - 1}, reverse=True)
        for row in rows:
            if row >= 0:
                table.removeRow(row)
        self._emit_changed()

    # -- reading the form ---------------------------------------------------------------------
    def _checked(self, box: QListWidget) -> list[int]:
        return [box.item(i).data(Qt.ItemDataRole.UserRole) for i in range(box.count())
                if box.item(i).checkState() == Qt.CheckState.Checked]

    def _text(self, table: QTableWidget, row: int, col: int) -> str:
        item = table.item(row, col)
        return item.text().strip() if item is not None else ""

    def _number(self, text: str):
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return text  # the spec names it: "needs numbers low and high"
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value

    def score_choice(self) -> ScoreChoice:
        return ScoreChoice(kind=self.score.currentData(), formula=self.formula.text(), floor_percent=self.floor.value(),
                           weights={k: s.value() for k, s in self.weights.items()})

    def form(self) -> StudyForm:
        ranges = []
        for row in range(self.ranges.rowCount()):
            steps, settings = self.ranges.cellWidget(row, 0), self.ranges.cellWidget(row, 1)
            ranges.append(RangeRow(steps.currentData() or 0, settings.currentData() or "",
                                   self._number(self._text(self.ranges, row, 2)),
                                   self._number(self._text(self.ranges, row, 3)), self._text(self.ranges, row, 4)))
        variants = [GridRow(self._text(self.variants, r, 0), self._text(self.variants, r, 1),
                            self._text(self.variants, r, 2)) for r in range(self.variants.rowCount())]
        return StudyForm(kind=self.kind.currentData(), name=self.name.text(),
                         order_steps=self._checked(self.order_steps),
                         ranges=ranges, optional=self._checked(self.optional), variants=variants,
                         sampler=self.sampler.currentData(), constraints=self.constraints.toPlainText().splitlines(),
                         score=self.score_choice(), trials=self.trials.value() or None,
                         seconds=self.seconds.value() or None)

    def spec(self) -> StudySpec:
        """The study as set up now (raises :class:`~core.study.spec.StudyError` listing every problem)."""
        return StudySpec.from_dict(self.form().to_dict(self.recipe))

    def problem_list(self) -> list[str]:
        if not self.recipe.steps:
            return ["the stack is empty: build a stack first, then start a study from it"]
        try:
            self.spec()
        except StudyError as exc:
            return list(exc.problems)
        except StudioError as exc:
            return [str(exc)]
        return []

    def validate(self) -> list[str]:
        """Show what is wrong (the score's message under the formula, the rest below); returns the problems."""
        problem = score_problem(self.score_choice())
        self.score_error.setText(problem or "")
        self.score_error.setVisible(bool(problem))
        problems = [p for p in self.problem_list() if not (problem and p.startswith("objective:"))]
        self.current_problems = problems + ([problem] if problem else [])
        self.problems.setText("\n".join(f"\u26a0 {p}" for p in problems[:6]))
        self.problems.setVisible(bool(problems))
        chosen = self._checked(self.order_steps)
        self.name.setPlaceholderText(default_name(self.kind.currentData(), self.recipe, chosen))
        return problems + ([problem] if problem else [])

    # -- reacting ---------------------------------------------------------------------------------
    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.pages.setCurrentIndex([v for _, v in KINDS].index(kind))
        self.trials.setSpecialValueText("all planned" if kind != "search" else "no limit")
        if kind == "search" and not self.trials.value():
            self.trials.setValue(20)
        self._emit_changed()

    def _score_changed(self) -> None:
        kind = self.score.currentData()
        for widget, shown in ((self.formula, kind == "formula"), (self.floor, kind in ("fastest", "smallest")),
                              (self.weights_box, kind == "geomean")):
            widget.setVisible(shown)
            self._score_form.labelForField(widget).setVisible(shown)
        self._emit_changed()

    def _emit_changed(self, *_) -> None:
        if self._filling:
            return
        self.validate()
        self.changed.emit()
