"""The run queue: recipes queued while a run goes start one after another; waiting items can be removed."""

from __future__ import annotations

from core.db import Repository, open_database
from studio.run_queue import RunQueue
from tests.studio.conftest import quick_recipe

RUN_TIMEOUT_MS = 60_000


def test_queue_keeps_order_copies_recipes_and_removes_waiting_items(qtbot):
    queue = RunQueue()
    recipe = quick_recipe()
    recipe.name = "a"
    with qtbot.waitSignal(queue.changed):
        first = queue.add(recipe)
    recipe.name = "b"  # the queued copy keeps its own name
    second = queue.add(recipe)
    third = queue.add(quick_recipe())
    assert [i.recipe.name for i in queue.items()] == ["a", "b", third.recipe.name]
    assert queue.remove(second.key) and not queue.remove(second.key)
    assert queue.pop().key == first.key and queue.pop().key == third.key and queue.pop() is None


def test_two_queued_recipes_run_in_order_and_both_land_in_the_database(qtbot, window, db_url):
    first, second, dropped = quick_recipe(max_steps=2), quick_recipe(max_steps=2), quick_recipe(max_steps=2)
    first.name, second.name, dropped.name = "queued-first", "queued-second", "queued-dropped"
    bridge = window.controller.bridge
    window.set_recipe(first)
    with qtbot.waitSignal(bridge.runStarted, timeout=RUN_TIMEOUT_MS) as started:
        window.queue_action.trigger()  # nothing runs: the queue starts it at once
    assert started.args[0].recipe["name"] == "queued-first"
    assert window.controller.running and len(window.queue) == 0
    window.set_recipe(second)
    window.queue_action.trigger()
    window.set_recipe(dropped)
    window.queue_action.trigger()
    assert [i.recipe.name for i in window.queue.items()] == ["queued-second", "queued-dropped"]
    assert window.queue_panel.list.count() == 2 and window.bottom_tabs.tabText(window.bottom_tabs.indexOf(window.queue_panel)) == "Queue (2)"
    window.queue_panel.list.setCurrentRow(1)
    window.queue_panel.remove_button.click()  # taken out before it started
    assert [i.recipe.name for i in window.queue.items()] == ["queued-second"]

    names = []
    bridge.runStarted.connect(lambda e: names.append(e.recipe["name"]))
    finished = []
    bridge.runFinished.connect(lambda e: finished.append(e.run_id))
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=2 * RUN_TIMEOUT_MS)
    assert names == ["queued-second"]  # started only after the first ended
    qtbot.waitUntil(lambda: not window.controller.running, timeout=5000)
    assert len(window.queue) == 0 and window.queue_panel.list.count() == 0
    with open_database(db_url) as db:
        runs = Repository(db).list_runs()
    by_name = {r.name: r for r in runs}
    assert set(by_name) == {"queued-first", "queued-second"}
    assert all(r.status == "finished" for r in runs)
    assert by_name["queued-first"].ended_at <= by_name["queued-second"].started_at
