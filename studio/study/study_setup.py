"""The Study view's form: the kind of study, what varies, the constraints, the score, the budget, the workers.

Every change re-validates through :class:`core.study.spec.StudySpec` (the very check the CLI makes) and
the score through :mod:`core.scoring`, whose message (naming an unknown name, or the syntax error with
its column) is shown under the formula; Start stays disabled while anything is wrong. The pages of what
varies are in :mod:`studio.study.setup_pages`, the score and constraints in :mod:`studio.study.score_box`.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QListWidget, QSizePolicy,
                               QSpinBox, QVBoxLayout, QWidget)

from core.errors import StudioError
from core.recipe import Recipe
from core.study.spec import StudyError, StudySpec
from studio.study import setup_pages
from studio.study.score_box import ScoreBox
from studio.study.setup_pages import GridPage, OrderPage, Pages, SearchPage
from studio.study.spec_builder import ScoreChoice, StudyForm, default_name

KINDS = (("Order and interaction", "order"), ("Search (Optuna)", "search"), ("Grid of variants", "grid"))


class StudySetup(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.recipe = Recipe()
        self.current_problems: list[str] = []  # as of the last validate()
        self.kind = QComboBox()
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for text, value in KINDS:
            self.kind.addItem(text, value)
        self.name = QLineEdit()
        self.order_page, self.search_page, self.grid_page = OrderPage(), SearchPage(), GridPage()
        self.pages = Pages()
        for page in (self.order_page, self.search_page, self.grid_page):  # in the order of KINDS
            self.pages.addWidget(page)
            page.changed.connect(self._emit_changed)
        # the pages' widgets, by the names the view and its tests use
        self.order_steps = self.order_page.steps
        self.ranges, self.optional, self.sampler = self.search_page.ranges, self.search_page.optional, \
            self.search_page.sampler
        self.variants = self.grid_page.variants
        self.score_box = ScoreBox()
        self.score_box.changed.connect(self._emit_changed)
        box = self.score_box
        self.score, self.formula, self.floor, self.weights = box.score, box.formula, box.floor, box.weights
        self.weights_box, self.score_error, self.constraints = box.weights_box, box.score_error, box.constraints
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
        QVBoxLayout(what).addWidget(self.pages)
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
        layout.addWidget(self.score_box)
        layout.addWidget(budget)
        layout.addWidget(self.problems)
        layout.addStretch(1)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        for signal in (self.name.textChanged, self.trials.valueChanged, self.seconds.valueChanged):
            signal.connect(self._emit_changed)
        self._kind_changed()

    # -- the template -----------------------------------------------------------------------
    def set_template(self, recipe: Recipe) -> None:
        """Start from ``recipe`` (the current stack): its steps fill the lists; choices that no longer fit go."""
        self.recipe = recipe.copy()
        for page in (self.order_page, self.search_page, self.grid_page):
            page.set_template(self.recipe)
        self.score_box.set_task(self.recipe.task)  # its retained figure, not accuracy's
        self._emit_changed()

    def step_numbers(self) -> list[int]:
        return list(range(1, len(self.recipe.steps) + 1))

    def set_kind(self, kind: str) -> None:
        self.kind.setCurrentIndex(next(i for i, (_, v) in enumerate(KINDS) if v == kind))

    def check_steps(self, box: QListWidget, numbers: list[int]) -> None:
        setup_pages.check_steps(box, numbers)

    def set_score(self, kind: str, formula: str = "") -> None:
        self.score_box.set_score(kind, formula)

    def add_range(self, step: int | None = None, setting: str | None = None, low=None, high=None,
                  choices: str = "") -> int:
        return self.search_page.add_range(step, setting, low, high, choices)

    def add_variant(self, name: str | None = None, settings: str = "", skip: str = "") -> int:
        return self.grid_page.add_variant(name, settings, skip)

    # -- reading the form ---------------------------------------------------------------------
    def score_choice(self) -> ScoreChoice:
        return self.score_box.choice()

    def form(self) -> StudyForm:
        return StudyForm(kind=self.kind.currentData(), name=self.name.text(),
                         order_steps=setup_pages.checked(self.order_steps),
                         ranges=self.search_page.range_rows(), optional=setup_pages.checked(self.optional),
                         variants=self.grid_page.grid_rows(), sampler=self.sampler.currentData(),
                         constraints=self.score_box.constraint_lines(), score=self.score_choice(),
                         trials=self.trials.value() or None, seconds=self.seconds.value() or None)

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
        problem = self.score_box.check()
        problems = [p for p in self.problem_list() if not (problem and p.startswith("objective:"))]
        self.current_problems = problems + ([problem] if problem else [])
        self.problems.setText("\n".join(f"\u26a0 {p}" for p in problems[:6]))
        self.problems.setVisible(bool(problems))
        chosen = setup_pages.checked(self.order_steps)
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

    def _emit_changed(self, *_) -> None:
        self.validate()
        self.changed.emit()
