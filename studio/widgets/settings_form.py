"""A form for the selected step, built only from the method's :class:`~core.registry.FieldInfo` list.

Numbers are typed into line edits rather than spin boxes so that an invalid
value stays visible and is flagged next to the field (spin boxes would clamp
it silently). Each edit goes to the :class:`~studio.recipe_model.RecipeModel`, which
converts and validates it; the errors shown under the fields are the model's
problems for this step and field.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QScrollArea, QVBoxLayout, QWidget)

from core.errors import Problem
from core.recipe import Step
from core.registry import FieldInfo
from studio.recipe_model import RecipeModel


_EMPTY_MEANS = re.compile(r"empty:\s*([^);]+)")
# Placeholders wider than this are not widened for: past it the row wraps and the field gets the whole width.
_MAX_FIELD_MIN_WIDTH = 220


def range_text(info: FieldInfo) -> str:
    """The accepted range, compact enough for a placeholder: ``1 – 48``, ``≥ 1``, ``≤ 0.95`` or ``""``."""
    def fmt(v: float) -> str:
        return format(v, "g") if isinstance(v, float) else str(v)

    if info.min is not None and info.max is not None:
        return f"{fmt(info.min)} \u2013 {fmt(info.max)}"
    if info.min is not None:
        return f"\u2265 {fmt(info.min)}"
    if info.max is not None:
        return f"\u2264 {fmt(info.max)}"
    return ""


def empty_meaning(info: FieldInfo) -> str:
    """What leaving an optional field empty means, as its help text says (``"(empty: the teacher's)"``)."""
    match = _EMPTY_MEANS.search(info.help)
    return match.group(1).strip() if match else "none"


def placeholder_text(info: FieldInfo) -> str:
    """Short enough to read in a narrow field: what empty means for optional fields, else the range."""
    return f"empty: {empty_meaning(info)}" if info.optional else range_text(info)


def field_tooltip(info: FieldInfo) -> str:
    """The help text with the full rules (range, empty) that the short placeholder leaves out."""
    lines = [info.help]
    if range_text(info):
        lines.append(f"Accepted: {range_text(info)}")
    if info.optional and "empty:" not in info.help:
        lines.append(f"Leave empty for: {empty_meaning(info)}")
    return "\n".join(lines)


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return repr(value) if isinstance(value, float) and (abs(value) < 1e-3 and value != 0) else str(value)


class SettingsForm(QWidget):
    """Edits the settings of one step of a :class:`RecipeModel`; emits ``settingsChanged`` and ``validityChanged``.

    Without a model given it makes its own, and :meth:`set_step` shows any step (a copy of it is edited).
    """

    settingsChanged = Signal()
    validityChanged = Signal(bool)

    def __init__(self, model: RecipeModel | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._own_model = model is None
        self.recipe_model = model if model is not None else RecipeModel(parent=self)
        self.recipe_model.problemsChanged.connect(self._show_problems)
        self.title = QLabel("Select a step to edit its settings.")
        self.title.setObjectName("formTitle")
        self.title.setWordWrap(True)
        self.description = QLabel("")
        self.description.setWordWrap(True)
        self.description.setObjectName("hint")
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # In the narrow column beside the stack, a long label ("Intermediate size (optional)") would leave its field
        # too little room to show the value or placeholder: such a row puts the field under its label instead.
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.description)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.form_host)
        layout.addWidget(scroll, 1)
        self.scroll = scroll
        self._boxes: dict[QWidget, QWidget] = {}  # editor -> its row (the editor with its error line)
        self.step: Step | None = None
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, str] = {}
        self._infos: dict[str, FieldInfo] = {}
        self._error_labels: dict[str, QLabel] = {}

    @property
    def valid(self) -> bool:
        return not self.errors

    def set_step(self, step: Step | None) -> None:
        """Show the fields of ``step``, one of the model's steps (``None`` clears the form)."""
        if step is not None and self.recipe_model.row_of(step) is None:
            if not self._own_model:
                raise ValueError(f"{step.method!r} is not a step of the recipe being edited")
            self.recipe_model.set_steps([step])
            step = self.recipe_model.steps[0]
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        self._infos.clear()
        self._error_labels.clear()
        self._boxes.clear()
        self.errors.clear()
        self.step = step
        if step is None:
            self.title.setText("Select a step to edit its settings.")
            self.description.setText("")
            self.validityChanged.emit(True)
            return
        try:
            spec = step.spec()
        except KeyError as exc:
            self.title.setText(f"Unknown method {step.method!r}")
            self.description.setText(str(exc.args[0]))
            self.errors["method"] = str(exc.args[0])
            self.validityChanged.emit(False)
            return
        self.title.setText(f"<b>{spec.title}</b> <span style='color:gray'>({spec.name})</span>")
        self.description.setText(spec.description)
        for info in spec.fields():
            value = step.settings.get(info.name, info.default)
            editor = self._editor(info, value)
            editor.setToolTip(field_tooltip(info))
            error = QLabel("")
            error.setObjectName("fieldError")
            error.setWordWrap(True)
            error.hide()
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(1)
            v.addWidget(editor)
            v.addWidget(error)
            label = QLabel(info.label + ("" if not info.optional else " (optional)"))
            label.setToolTip(field_tooltip(info))
            self.form.addRow(label, box)
            self._boxes[editor] = box
            editor.installEventFilter(self)
            self.editors[info.name] = editor
            self._infos[info.name] = info
            self._error_labels[info.name] = error
        self._show_problems(self.recipe_model.problems)
        # Tab walks the fields top to bottom, whatever order the rows' widgets were created in.
        editors = list(self.editors.values())
        for first, second in zip(editors, editors[1:]):
            QWidget.setTabOrder(first, second)
        self.validityChanged.emit(self.valid)

    def set_value(self, name: str, value: Any) -> None:
        """Set a field as if the user had typed ``value`` (used by tests and recipe loading)."""
        editor = self.editors[name]
        if isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            editor.setCurrentText(str(value))
        else:
            text = value if isinstance(value, str) else _to_text(value)
            editor.setText(text)
            info = self._infos[name]
            self._edited(info, self._parse(info, text))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn and watched in self._boxes:
            QTimer.singleShot(0, self, lambda w=watched: self._reveal(w))  # after the scroll area's own scrolling
        return super().eventFilter(watched, event)

    def _reveal(self, editor: QWidget) -> None:
        """Keep the focused field's whole row in view, and the row above it when that one shows an error.

        Tab from a field with an error would otherwise scroll that field away and leave its error line alone at
        the top of the form, or cut the focused row in half.
        """
        boxes = list(self._boxes.values())
        box = self._boxes.get(editor)
        if box is None:
            return
        i = boxes.index(box)
        if i > 0 and any(not lbl.isHidden() for lbl in boxes[i - 1].findChildren(QLabel)):
            self.scroll.ensureWidgetVisible(boxes[i - 1], 0, 4)
        self.scroll.ensureWidgetVisible(box, 0, 4)

    # -- internals -----------------------------------------------------
    def _editor(self, info: FieldInfo, value: Any) -> QWidget:
        if info.type is bool and info.choices is None:
            editor = QCheckBox()
            editor.setChecked(bool(value))
            editor.toggled.connect(lambda v, i=info: self._edited(i, v))
            return editor
        if info.choices:
            editor = QComboBox()
            editor.addItems([str(c) for c in info.choices])
            editor.setCurrentText(str(value))
            editor.currentIndexChanged.connect(lambda idx, i=info: self._edited(i, i.choices[idx]))
            return editor
        editor = QLineEdit(_to_text(value))
        placeholder = placeholder_text(info)
        editor.setPlaceholderText(placeholder)
        if placeholder:
            # Wide enough for the placeholder (plus the frame and text margins); the form wraps the row if need be.
            needed = editor.fontMetrics().horizontalAdvance(placeholder) + 20
            editor.setMinimumWidth(min(needed, _MAX_FIELD_MIN_WIDTH))
        # textEdited flags a bad value while typing; editingFinished stores it.
        editor.textEdited.connect(lambda text, i=info: self._edited(i, self._parse(i, text)))
        return editor

    @staticmethod
    def _parse(info: FieldInfo, text: str) -> Any:
        text = text.strip()
        if text == "":
            return None if info.optional or info.type is not str else ""
        return text

    def _edited(self, info: FieldInfo, raw: Any) -> None:
        row = self.recipe_model.row_of(self.step) if self.step is not None else None
        if row is None:
            return
        before = self.valid
        self.recipe_model.set_step_setting(row, info.name, raw)  # converted and validated there, once
        self.settingsChanged.emit()
        if before != self.valid:
            self.validityChanged.emit(self.valid)

    def _show_problems(self, problems: list[Problem]) -> None:
        """Flag each field the model's problems name for this step; clear the others."""
        row = self.recipe_model.row_of(self.step) if self.step is not None else None
        if row is None or not self.editors:
            return
        found: dict[str, str] = {}
        for p in problems:
            if p.step == row and p.field in self.editors:
                found.setdefault(p.field, p.message)
        for name, editor in self.editors.items():
            error = found.get(name)
            label = self._error_labels[name]
            if error:
                self.errors[name] = error
                label.setText(error)
            else:
                self.errors.pop(name, None)
            label.setVisible(bool(error))
            if editor.property("invalid") is not bool(error):
                editor.setProperty("invalid", bool(error))
                editor.style().unpolish(editor)  # re-read the style sheet's [invalid="true"] rule
                editor.style().polish(editor)
