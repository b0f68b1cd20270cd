"""The settings form in the narrow column beside the stack: placeholders readable, the full rules in the tooltip."""

from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QLineEdit, QStyle

from core.recipe import Step
from studio.widgets.settings_form import SettingsForm

# The width the window gives the form beside the stack (1380 px window, default docks).
FORM_WIDTH = 225


def _visible_text_width(editor: QLineEdit) -> int:
    frame = editor.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, editor)
    margins = editor.textMargins()
    return editor.width() - 2 * frame - 4 - margins.left() - margins.right()  # QLineEdit keeps 2 px each side


def _form(qtbot, step: Step) -> SettingsForm:
    form = SettingsForm()
    qtbot.addWidget(form)
    form.resize(FORM_WIDTH, 600)
    form.show()
    qtbot.waitExposed(form)
    form.set_step(step)
    qtbot.wait(10)  # let the layout settle
    return form


def test_optional_field_placeholders_fit_the_narrow_form_and_stay_inside_it(qtbot):
    form = _form(qtbot, Step("distill.student_init", {"mode": "config"}))
    viewport = form.form_host.parentWidget()
    edits = {name: e for name, e in form.editors.items() if isinstance(e, QLineEdit) and e.placeholderText()}
    assert {"hidden_size", "num_heads", "intermediate_size", "num_layers"} <= set(edits)
    for name, editor in edits.items():
        text = editor.placeholderText()
        assert editor.fontMetrics().horizontalAdvance(text) <= _visible_text_width(editor), (name, text, editor.width())
        right = editor.mapTo(viewport, QPoint(editor.width(), 0)).x()
        assert right <= viewport.width(), f"{name} is cut off by the form's right edge"


def test_placeholder_says_what_empty_means_and_the_tooltip_keeps_the_full_rules(qtbot):
    form = _form(qtbot, Step("distill.student_init", {"mode": "config"}))
    hidden = form.editors["hidden_size"]
    assert hidden.placeholderText() == "empty: the teacher's"  # from the help text "(empty: the teacher's)"
    assert "8 \u2013 8192" in hidden.toolTip() and "hidden width" in hidden.toolTip()
    assert form.editors["num_layers"].placeholderText() == "1 \u2013 48"
    form.set_step(Step("finetune", {}))
    assert form.editors["max_steps"].placeholderText() == "empty: no limit"
    assert "\u2265 1" in form.editors["max_steps"].toolTip()
    assert "1e-07 \u2013 1" in form.editors["learning_rate"].toolTip()
