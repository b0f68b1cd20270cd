"""Issue 13, "what a newcomer expected": a context menu on the saved runs (inspect, open recipe, re-run)."""

from __future__ import annotations

from core.recipe import Step
from tests.studio.conftest import quick_recipe, record_run

RUN_TIMEOUT_MS = 60_000


def _menu_actions(window, run_id):
    window.runs.refresh()
    window.runs.select_runs([run_id])
    return {a.text(): a for a in window.runs.context_menu().actions() if a.text()}


def test_saved_run_menu_inspects_opens_and_reruns_a_real_run(qtbot, window, dialogs):
    recipe = quick_recipe(max_steps=2)
    recipe.steps.append(Step("prune.heads", {"amount": 0.5}))
    window.set_recipe(recipe)
    with qtbot.waitSignal(window.controller.bridge.runFinished, timeout=RUN_TIMEOUT_MS) as done:
        window.run_action.trigger()
    run_id = done.args[0].run_id
    qtbot.waitUntil(lambda: run_id in window.runs.run_ids(), timeout=5000)
    actions = _menu_actions(window, run_id)
    assert {"Inspect final model", "Open recipe in stack editor", "Re-run", "Export\u2026"} <= set(actions)
    assert all(a.isEnabled() for a in actions.values())

    # Inspect: the final model, head-pruned, not the model in the editor
    actions["Inspect final model"].trigger()
    qtbot.waitUntil(lambda: window.inspector is not None and window.inspector.isVisible(), timeout=30_000)
    assert not dialogs.errors
    heads = [layer["heads"] for layer in window.inspector.info["layers"]]
    assert heads and sum(heads) < 4 * len(heads)  # tiny BERT has 4 heads a layer; half were pruned

    # Open recipe: the editor shows the run's stack, after asking over an edited stack
    window.new_recipe()
    window.stack.add_method("quant.kbit")
    dialogs.answer = True
    actions = _menu_actions(window, run_id)
    actions["Open recipe in stack editor"].trigger()
    assert dialogs.questions and [s.method for s in window.stack.steps()] == ["finetune", "prune.heads"]
    assert window.main_tabs.currentIndex() == 0 and not window.isWindowModified()
    assert window.recipe().model.source == "tiny"

    # Re-run: the same recipe runs again as a new run
    window.new_recipe()
    bridge = window.controller.bridge
    with qtbot.waitSignal(bridge.runStarted, timeout=RUN_TIMEOUT_MS) as again:
        _menu_actions(window, run_id)["Re-run"].trigger()
    assert again.args[0].run_id != run_id
    assert [s["method"] for s in again.args[0].recipe["steps"]] == ["finetune", "prune.heads"]
    assert window.stack.steps() == []  # re-running does not touch the editor
    with qtbot.waitSignal(bridge.runCancelled, timeout=RUN_TIMEOUT_MS):
        window.cancel_action.trigger()


def test_menu_on_a_failed_run_offers_no_inspection(qtbot, window, db_url):
    failed = record_run(db_url, quick_recipe(), {}, status="failed")
    actions = _menu_actions(window, failed)
    assert not actions["Inspect final model"].isEnabled() and not actions["Export\u2026"].isEnabled()
    assert actions["Open recipe in stack editor"].isEnabled() and actions["Re-run"].isEnabled()
