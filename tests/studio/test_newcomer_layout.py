"""Issue 13, item 7: the layout a newcomer tripped over (form height, docks on the saved runs, the log, Tab, the
warning banner)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication, QDockWidget, QScrollArea

from core.recipe import Step
from studio.widgets.settings_form import SettingsForm
from tests.studio.conftest import shown


def _in_view(form: SettingsForm, widget) -> bool:
    viewport = form.findChild(QScrollArea).viewport()
    top_left = widget.mapTo(viewport, QPoint(0, 0))
    return viewport.rect().contains(QRect(top_left, widget.size()))


def _dock(window, widget) -> QDockWidget:
    return next(d for d in window.findChildren(QDockWidget) if d.widget() is widget)


def test_the_step_form_shows_every_fine_tuning_field_at_the_default_size(qtbot, window):
    window.resize(1380, 860)
    qtbot.waitUntil(lambda: window.width() == 1380, timeout=2000)
    window.form.set_step(window.stack.steps()[0])
    assert window.form.step.method == "finetune"

    def laid_out() -> None:  # retried until the layout has settled, the last failure reported
        assert _in_view(window.form, window.form.editors["eval_every"]), "the 'Eval every' field is cut"
        assert _in_view(window.form, window.form.editors["epochs"])

    qtbot.waitUntil(laid_out, timeout=2000)


def test_a_warning_does_not_move_the_stack_buttons(qtbot, window):
    window.resize(1380, 860)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1380, 860), timeout=2000)
    QApplication.processEvents()  # the layout requests the resize posted
    before = window.stack.up_button.mapTo(window, QPoint(0, 0))
    window.stack.add_method("finetune")
    window.form.set_value("epochs", "-3")  # a problem: the banner shows
    qtbot.waitUntil(window.problems_label.isVisible, timeout=2000)
    QApplication.processEvents()  # and the layout it asked for
    assert window.stack.up_button.mapTo(window, QPoint(0, 0)) == before


def test_saved_runs_keep_the_run_and_log_docks_and_the_log_its_place(qtbot, window):
    for i in range(300):
        window.log.append_line(f"line {i}")
    bar = window.log.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0  # follows the new lines
    bar.setValue(bar.maximum() // 2)  # the user scrolls up to read: new lines do not pull the view down
    window.log.append_line("one more")
    assert bar.value() < bar.maximum() - 10
    kept = bar.value()
    run_dock, log_dock = _dock(window, window.dashboard), window.log_dock
    left = _dock(window, window.data_panel)
    assert not log_dock.visibleRegion().isEmpty()
    window.main_tabs.setCurrentWidget(window.browser)
    assert run_dock.isVisible() and log_dock.isVisible() and not left.isVisible()
    window.main_tabs.setCurrentIndex(0)
    assert left.isVisible() and bar.value() == kept
    assert not log_dock.visibleRegion().isEmpty()  # the Log tab still in front, not the Head mask


def test_tab_from_a_field_with_an_error_keeps_the_field_and_its_error_in_view(qtbot):
    form = shown(qtbot, SettingsForm(), 360, 230)
    form.set_step(Step("prune.heads", {}))
    names = list(form.editors)
    amount = form.editors["amount"]
    amount.setFocus()
    form.set_value("amount", "3")  # out of range: an error line under the field
    assert "amount" in form.errors
    QApplication.processEvents()
    form.focusNextChild()  # what Tab does
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not amount, timeout=1000)
    focused = QApplication.focusWidget()
    assert focused is form.editors[names[names.index("amount") + 1]]
    error = form._error_labels["amount"]
    qtbot.waitUntil(lambda: _in_view(form, focused) and _in_view(form, amount) and _in_view(form, error),
                    timeout=2000)  # the form scrolls them into view
