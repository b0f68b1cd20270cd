"""The recipe's own settings in the window: its name, and how the final model is evaluated and timed.

Both edit the one :class:`~studio.recipe_model.RecipeModel` (``set_name``,
``set_evaluation_field``), which converts and validates each value once; a
value that does not convert stays as typed and its problem shows under the form,
as in the step form. What used to be reachable only by editing the YAML (the
split, the latency profiles, the timed rounds, the threads) is here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from core.metrics.protocol import PROFILES
from core.naming import UNNAMED, stack_name
from core.recipe import EvaluationSettings
from core.registry import config_fields
from studio.recipe_model import RecipeModel
from studio.widgets.settings_form import _to_text, field_tooltip, placeholder_text

# The evaluation fields in the order a user reads them, with the words the window uses for them.
LABELS = {"split": "Evaluation split", "max_samples": "Rows evaluated", "batch_size": "Accuracy batch",
          "latency_profiles": "Latency profiles", "latency_repeats": "Timed rounds",
          "latency_threads": "Timing threads", "latency_batch_size": "Timing batch",
          "measure_baseline": "Measure the baseline"}


class RecipeNameField(QWidget):
    """The recipe's name; empty means the name built from the stack, shown as the placeholder.

    It shows the model's name; what the user types goes out as ``nameTyped(str)`` (the window decides what a
    typed name means: it sticks, where an opened one is dropped once the stack changes).
    """

    nameTyped = Signal(str)

    def __init__(self, model: RecipeModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.recipe_model = model
        self.edit = QLineEdit()
        self.edit.setObjectName("recipeName")
        self.edit.setToolTip("The recipe's name, which its runs are recorded under. Leave it empty to name each run "
                             "from its stack (shown greyed); an opened recipe's name is dropped once its stack or "
                             "model changes.")
        self.edit.setClearButtonEnabled(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 0)
        layout.addWidget(QLabel("Recipe name"))
        layout.addWidget(self.edit, 1)
        self.edit.textEdited.connect(lambda text: self.nameTyped.emit(text.strip()))
        model.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        recipe = self.recipe_model.recipe
        name = "" if str(recipe.name or "").strip() in UNNAMED else recipe.name
        if self.edit.text().strip() != name:
            self.edit.setText(name)
        self.edit.setPlaceholderText(stack_name(recipe.steps))


class InputsKeptNote(QFrame):
    """After an example opens: which of the window's model, data and sample caps it kept, and one click to take
    the example's instead (``useExample``)."""

    useExample = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("keptNote")
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.use_button = QPushButton("Use the example's")
        self.use_button.setToolTip("Take the example's model, data and sample caps instead of the window's")
        self.use_button.clicked.connect(self.useExample)
        self.keep_button = QPushButton("Keep mine")
        self.keep_button.setToolTip("Keep the window's model, data and caps, and hide this note")
        self.keep_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.use_button)
        layout.addWidget(self.keep_button)
        self.hide()

    def show_kept(self, kept: list[str]) -> None:
        """Say what was kept (nothing: no note)."""
        self.text.setText("The example runs on the window's " + "; ".join(kept) + ".")
        self.setVisible(bool(kept))


class EvaluationForm(QWidget):
    """The recipe's ``evaluation`` section: split, rows, latency profiles, rounds, threads, batches, baseline."""

    def __init__(self, model: RecipeModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.recipe_model = model
        self.infos = {info.name: info for info in config_fields(EvaluationSettings)}
        self.editors: dict[str, QWidget] = {}
        self.profiles: dict[str, QCheckBox] = {}
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for name, label in LABELS.items():
            info = self.infos[name]
            editor = self._editor(name)
            editor.setToolTip(field_tooltip(info))
            self.editors[name] = editor
            form.addRow(label, editor)
        self.errors = QLabel("")
        self.errors.setObjectName("fieldError")
        self.errors.setWordWrap(True)
        self.errors.hide()
        note = QLabel("How the final model (and the baseline) are measured after the last step: the figures of every "
                      "run of this recipe come from here.")
        note.setObjectName("hint")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.errors)
        layout.addStretch(1)
        model.changed.connect(self.refresh)
        model.problemsChanged.connect(self._show_problems)
        self.refresh()

    def _editor(self, name: str) -> QWidget:
        info = self.infos[name]
        if name == "latency_profiles":
            box = QWidget()
            grid = QGridLayout(box)  # two by two: narrow enough for the centre column of a 1280 px screen
            grid.setContentsMargins(0, 0, 0, 0)
            for i, profile in enumerate(PROFILES):
                check = QCheckBox(profile)
                check.toggled.connect(lambda _=False: self._profiles_edited())
                self.profiles[profile] = check
                grid.addWidget(check, i // 2, i % 2)
            return box
        if info.type is bool:
            check = QCheckBox()
            check.toggled.connect(lambda value: self.recipe_model.set_evaluation_field(name, value))
            return check
        if info.choices:
            combo = QComboBox()
            combo.addItems([str(c) for c in info.choices])
            combo.activated.connect(lambda index: self.recipe_model.set_evaluation_field(name, info.choices[index]))
            return combo
        edit = QLineEdit()
        edit.setPlaceholderText(placeholder_text(info))
        edit.textEdited.connect(lambda text: self.recipe_model.set_evaluation_field(
            name, text.strip() or (None if info.optional else "")))
        return edit

    def set_value(self, name: str, value: Any) -> None:
        """Set a field as a user would (a list of profiles for ``latency_profiles``)."""
        if name == "latency_profiles":
            for profile, check in self.profiles.items():
                check.setChecked(profile in value)
            return
        editor = self.editors[name]
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
            editor.activated.emit(editor.currentIndex())
        else:
            editor.setText(_to_text(value))
            editor.textEdited.emit(editor.text())

    def _profiles_edited(self) -> None:
        # The order the recipe had stays (its first profile gives the headline latency); new ones go after.
        old = [p for p in self.recipe_model.recipe.evaluation.latency_profiles if p in PROFILES]
        checked = [p for p, check in self.profiles.items() if check.isChecked()]
        self.recipe_model.set_evaluation_field("latency_profiles",
                                               [p for p in old if p in checked] + [p for p in checked if p not in old])

    def refresh(self) -> None:
        """Show the recipe's evaluation settings (a field being typed in keeps its text)."""
        evaluation = self.recipe_model.recipe.evaluation
        for name, editor in self.editors.items():
            value = getattr(evaluation, name)
            editor.blockSignals(True)
            if name == "latency_profiles":
                for profile, check in self.profiles.items():
                    check.blockSignals(True)
                    check.setChecked(profile in (value or ()))
                    check.blockSignals(False)
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            elif not editor.hasFocus() and editor.text() != _to_text(value):
                editor.setText(_to_text(value))
            editor.blockSignals(False)

    def _show_problems(self, problems) -> None:
        found = [p for p in problems if str(p.field or "").startswith("evaluation.")]
        self.errors.setText("\n".join(f"\u26a0 {LABELS.get(p.field.split('.', 1)[1], p.field)}: {p.message}"
                                      for p in found))
        self.errors.setVisible(bool(found))
        for name, editor in self.editors.items():
            bad = any(p.field == f"evaluation.{name}" for p in found)
            if editor.property("invalid") is not bad:
                editor.setProperty("invalid", bad)
                editor.style().unpolish(editor)
                editor.style().polish(editor)
