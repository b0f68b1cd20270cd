"""Part 2 of #23: the run queue can be reordered; Help has a getting-started page (a first run in five steps)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.run_queue import RunQueue
from studio.widgets.queue_panel import QueuePanel
from tests.studio.conftest import quick_recipe


def _queue(*names: str) -> RunQueue:
    queue = RunQueue()
    for name in names:
        recipe = quick_recipe()
        recipe.name = name
        queue.add(recipe)
    return queue


def names(queue: RunQueue) -> list[str]:
    return [i.recipe.name for i in queue.items()]


def test_up_and_down_reorder_the_queue_and_the_next_run_follows(qtbot):
    queue = _queue("a", "b", "c")
    panel = QueuePanel(queue)
    qtbot.addWidget(panel)
    panel.list.setCurrentRow(2)
    assert panel.up_button.isEnabled() and not panel.down_button.isEnabled()
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.up_button, Qt.MouseButton.LeftButton)
    assert names(queue) == ["c", "a", "b"]
    assert panel.list.currentRow() == 0 and panel.list.item(0).text().startswith("1. c")
    assert not panel.up_button.isEnabled()
    qtbot.mouseClick(panel.down_button, Qt.MouseButton.LeftButton)
    assert names(queue) == ["a", "c", "b"]
    assert queue.pop().recipe.name == "a"  # the window starts the queue's first item next


def test_a_drag_in_the_list_reorders_the_queue(qtbot):
    queue = _queue("a", "b", "c")
    panel = QueuePanel(queue)
    qtbot.addWidget(panel)
    model = panel.list.model()
    # What an internal drag does to the list: the last row moves to the top.
    assert model.moveRow(model.index(0, 0).parent(), 2, model.index(0, 0).parent(), 0)
    assert names(queue) == ["c", "a", "b"]
    assert [panel.list.item(i).text()[:4] for i in range(3)] == ["1. c", "2. a", "3. b"]


def test_help_has_a_first_run_in_five_steps_with_pictures(qtbot, window):
    window.start_help_action.trigger()
    page = window.help_dialog
    qtbot.waitExposed(page)
    assert page.tabs.currentWidget() is page.start
    text = page.start.toPlainText()
    assert "a first run in five steps" in text.lower()
    for n, title in enumerate(("Choose a model and data", "Build a stack", "Run it", "Read the results",
                               "Export the model"), start=1):
        assert f"{n}. {title}" in text
    html = page.start.toHtml()
    assert html.count("<img") >= 3 and "live-dashboard.png" in html
    window.help_action.trigger()
    assert page.browser.toPlainText()  # the figures and methods stay a tab away
