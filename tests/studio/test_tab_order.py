"""Tab walks the model-and-data panel and the settings form in reading order."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.recipe import Step


def _walk(qtbot, start, count):
    """Focus ``start``, press Tab ``count - 1`` times; the widgets that had focus (editable combos own their line edit)."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=2000)
    seen = [QApplication.focusWidget()]
    for _ in range(count - 1):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
    return seen


def _owner(widget, candidates):
    return next((c for c in candidates if c is widget or c.isAncestorOf(widget)), widget)


def test_tab_walks_model_data_columns_and_caps_in_reading_order(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=2000)
    p = window.data_panel
    expected = [p.model_box, p.model_browse, p.inspect_button, p.device_box, p.processes_box, p.data_box, p.data_browse,
                p.data_folder, p.task_box, p.text_column, p.pair_column, p.label_column, p.max_length, p.train_cap,
                p.val_cap, p.test_cap]
    assert [w for w in p.focus_chain() if not w.isHidden()] == expected  # a task's own rows show for that task
    seen = [_owner(w, expected) for w in _walk(qtbot, p.model_box, len(expected))]
    assert seen == expected
    # Reading order is also screen order: each next input is lower, or on the same row further right.
    spots = [w.mapTo(window, w.rect().topLeft()) for w in expected]
    for a, b in zip(spots, spots[1:]):
        assert b.y() > a.y() or (b.y() == a.y() and b.x() > a.x())


def test_tab_walks_the_settings_form_top_to_bottom(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=2000)
    window.stack.set_steps([Step("finetune", {"max_steps": 2})])
    window.stack.list.setCurrentRow(0)
    editors = list(window.form.editors.values())
    assert len(editors) >= 4
    qtbot.waitUntil(lambda: all(e.isVisible() for e in editors), timeout=2000)  # rows show after the event loop
    seen = [_owner(w, editors) for w in _walk(qtbot, editors[0], len(editors))]
    assert seen == editors
    tops = [w.mapTo(window.form, w.rect().topLeft()).y() for w in editors]
    assert tops == sorted(tops)
