"""The one recipe the studio edits: the panels change it through this model, which validates once per change.

The model-and-data panel, the stack editor and the settings form all hold the
same :class:`RecipeModel` and read :attr:`RecipeModel.recipe` (a live
:class:`~core.recipe.Recipe`, never a copy); none keeps a recipe of its own.
Each edit goes through a method here, which coerces the new value once with the
field's :class:`~core.registry.FieldInfo` (the settings dataclass's types and
ranges), validates the whole recipe once, then says what changed. A value that
does not coerce is stored as typed, so the validation reports it (with its step
and field) and Run stays off.

Signals, in this order after each change: what changed (``replaced``,
``stepsChanged``, ``stepChanged(row)``, ``inputsChanged`` or ``recipeSettingsChanged``), then
``problemsChanged(list[Problem])``, then ``changed``. :meth:`revalidate` (for
checks whose answer changes without the recipe, such as the model family once
torch is loaded) emits ``problemsChanged`` only.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Callable, Iterable

from PySide6.QtCore import QObject, Signal

from core.errors import Problem
from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step
from core.registry import FieldInfo, check_field, config_fields

Check = Callable[[Recipe], list[Problem]]
EMPTY_STACK = "the stack is empty: add a method from the palette"
_ABSENT = object()


@functools.cache
def _infos(cls: type) -> dict[str, FieldInfo]:
    return {info.name: info for info in config_fields(cls)}


def _coerced(info: FieldInfo, raw: Any) -> Any:
    """``raw`` converted for ``info``; as typed when it does not convert or is out of range (validation says why)."""
    value, error = check_field(info, raw)
    return raw if error else value


def _same(old: Any, new: Any) -> bool:
    return old is not _ABSENT and type(old) is type(new) and old == new


class RecipeModel(QObject):
    """Holds the recipe being edited; every change is coerced once and validated once.

    ``checks`` are extra validations run with :meth:`core.recipe.Recipe.problems` (the window adds the model
    family's); an empty stack is a problem too, since the studio cannot run one.
    """

    replaced = Signal()  # a whole new recipe (opened, new, a run's)
    stepsChanged = Signal()  # steps added, removed, moved or set
    stepChanged = Signal(int)  # a setting of the step at this row
    inputsChanged = Signal()  # the model, the data or the device
    recipeSettingsChanged = Signal()  # the recipe's own settings: its name, its evaluation
    problemsChanged = Signal(object)  # list[Problem], after every validation
    changed = Signal()  # after every change, once validated

    def __init__(self, recipe: Recipe | None = None, checks: Iterable[Check] = (), parent: QObject | None = None):
        super().__init__(parent)
        self._recipe = recipe.copy() if recipe is not None else Recipe()
        self._checks = list(checks)
        self._problems: list[Problem] = []
        self.revision = 0  # counts changes, so a reader can cache what it derives from the recipe
        self._validate()

    # -- reading ---------------------------------------------------------
    @property
    def recipe(self) -> Recipe:
        """The recipe being edited (the live object: read it; change it through this model's methods)."""
        return self._recipe

    @property
    def steps(self) -> list[Step]:
        return self._recipe.steps

    @property
    def problems(self) -> list[Problem]:
        """What the last validation found: :class:`~core.errors.Problem` objects with their step and field."""
        return list(self._problems)

    def row_of(self, step: Step) -> int | None:
        """The row of ``step`` (by identity) in the stack, or None when it is not one of this recipe's steps."""
        return next((i for i, s in enumerate(self._recipe.steps) if s is step), None)

    # -- the whole recipe ------------------------------------------------
    def set_recipe(self, recipe: Recipe) -> None:
        """Edit a copy of ``recipe`` from now on."""
        self._recipe = recipe.copy()
        self._changed(self.replaced)

    def set_name(self, name: str) -> None:
        self._set_field(self._recipe, Recipe, "name", name, self.recipeSettingsChanged)

    def set_evaluation_field(self, name: str, raw: Any) -> None:
        """Set ``evaluation.<name>`` (the split, the latency profiles, the timed rounds...) from ``raw``."""
        self._set_field(self._recipe.evaluation, EvaluationSettings, name, raw, self.recipeSettingsChanged)

    # -- model, data, device ---------------------------------------------
    def set_model_source(self, source: str) -> None:
        self._set_field(self._recipe.model, ModelRef, "source", source, self.inputsChanged)

    def set_data(self, ref: DataRef) -> None:
        """Use ``ref`` (a whole, already typed data section, such as the column-mapping dialog's) as the data."""
        if ref != self._recipe.data:
            self._recipe.data = copy.deepcopy(ref)
            self._changed(self.inputsChanged)

    def set_data_field(self, name: str, raw: Any) -> None:
        self._set_field(self._recipe.data, DataRef, name, raw, self.inputsChanged)

    def set_device(self, device: str) -> None:
        self._set_field(self._recipe, Recipe, "device", device, self.inputsChanged)

    def set_task(self, task: str) -> None:
        self._set_field(self._recipe, Recipe, "task", task, self.inputsChanged)

    def add_check(self, check: Check) -> None:
        """Validate with ``check`` too from now on (a panel's checks of what it has read, such as the columns)."""
        self._checks.append(check)
        self.revalidate()

    # -- the stack -------------------------------------------------------
    def set_steps(self, steps: list[Step]) -> None:
        self._recipe.steps = copy.deepcopy(list(steps))
        self._changed(self.stepsChanged)

    def insert_step(self, step: Step, row: int | None = None) -> int:
        """Insert ``step`` itself (not a copy) at ``row`` (the end when None); returns the row it went to."""
        steps = self._recipe.steps
        row = len(steps) if row is None else max(0, min(row, len(steps)))
        steps.insert(row, step)
        self._changed(self.stepsChanged)
        return row

    def remove_step(self, row: int) -> Step:
        step = self._recipe.steps.pop(row)
        self._changed(self.stepsChanged)
        return step

    def move_step(self, row: int, target: int) -> None:
        steps = self._recipe.steps
        if row == target or not (0 <= row < len(steps) and 0 <= target < len(steps)):
            return
        steps.insert(target, steps.pop(row))
        self._changed(self.stepsChanged)

    def set_step_setting(self, row: int, name: str, raw: Any) -> None:
        """Set setting ``name`` of the step at ``row`` from ``raw`` (typed text, a bool, a choice, None for empty).

        Converted with the method's field (a number from ``"0.5"``); a value that does not convert, or is out
        of range, is stored as typed and reported by the validation.
        """
        step = self._recipe.steps[row]
        info = _infos(step.spec().config_cls).get(name)
        value = _coerced(info, raw) if info is not None else raw
        if _same(step.settings.get(name, _ABSENT), value):
            return
        step.settings[name] = value
        self._changed(self.stepChanged, row)

    # -- validation ------------------------------------------------------
    def revalidate(self) -> None:
        """Validate again although the recipe did not change (a check's answer did)."""
        self._validate()
        self.problemsChanged.emit(self.problems)

    def _validate(self) -> None:
        recipe = self._recipe
        problems = recipe.problems()
        for check in self._checks:
            problems += check(recipe)
        if not recipe.steps:
            problems.append(Problem(EMPTY_STACK))
        self._problems = problems

    # -- internals -------------------------------------------------------
    def _set_field(self, target: Any, cls: type, name: str, raw: Any, signal) -> None:
        value = _coerced(_infos(cls)[name], raw)
        if _same(getattr(target, name, _ABSENT), value):
            return
        setattr(target, name, value)
        self._changed(signal)

    def _changed(self, signal, *args) -> None:
        self.revision += 1
        self._validate()
        if signal is not None:
            signal.emit(*args)
        self.problemsChanged.emit(self.problems)
        self.changed.emit()
