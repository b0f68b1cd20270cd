"""Issue 23, item 1.3: the Saved runs selection stays exactly what the user selected when new runs are recorded."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.studio.conftest import quick_recipe, record_run


def test_recording_new_runs_keeps_exactly_the_selected_rows(qtbot, window, db_url):
    first = record_run(db_url, quick_recipe(), {"accuracy": 0.61})
    second = record_run(db_url, quick_recipe(), {"accuracy": 0.62})
    runs = window.runs
    runs.refresh()
    window.main_tabs.setCurrentWidget(window.browser)
    row = runs.run_ids().index(second)
    qtbot.mouseClick(runs.table.viewport(), Qt.MouseButton.LeftButton,
                     pos=runs.table.visualItemRect(runs.table.item(row, 1)).center())
    assert runs.selected_run_ids() == [second]
    seen = []
    runs.selectionChanged.connect(seen.append)
    for accuracy in (0.63, 0.64):  # two runs recorded meanwhile (newest first: they go on top)
        record_run(db_url, quick_recipe(), {"accuracy": accuracy})
        runs.refresh()
        assert runs.selected_run_ids() == [second], runs.selected_run_ids()
    assert all(ids == [second] for ids in seen)
    assert window.browser.pages.currentWidget() is window.browser.details  # one run's details, not "Comparing 3 runs"
    runs.select_runs([first, second])
    record_run(db_url, quick_recipe(), {"accuracy": 0.65})
    runs.refresh()
    assert sorted(runs.selected_run_ids()) == sorted([first, second])
