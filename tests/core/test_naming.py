"""Issue 13, item 3: runs are named from their stack unless the recipe names them; the CLI records the same name."""

from __future__ import annotations

from core.naming import run_name, stack_name
from core.recipe import Recipe, Step


def test_stack_names_say_what_each_step_does():
    steps = [Step("finetune", {"epochs": 1.0}), Step("prune.heads", {"amount": 0.5}), Step("quant.dynamic_int8", {})]
    assert stack_name(steps) == "fine-tune \u2192 heads 50 % \u2192 int8"
    # settings left out are read from the registry's defaults; a dict recipe names the same way
    assert stack_name([{"method": "prune.ffn"}, "quant.kbit"]) == "FFN 50 % \u2192 4-bit"
    assert stack_name([Step("prune.heads", {"count": 6})]) == "6 heads"
    # a searched share reads to a tenth of a per cent (a study's trials), not six digits
    assert stack_name([Step("prune.heads", {"amount": 0.47233301})]) == "heads 47.2 %"
    assert stack_name([]) == "empty stack"
    assert stack_name([Step("some.plugin", {})]) == "some.plugin"


def test_run_name_keeps_a_chosen_name_and_names_the_rest_from_the_stack():
    steps = [Step("finetune", {}), Step("prune.magnitude", {"sparsity": 0.3})]
    assert run_name(Recipe(name="quickstart", steps=steps)) == "quickstart"
    assert run_name(Recipe(name="untitled", steps=steps)) == "fine-tune \u2192 magnitude 30 %"
    assert run_name({"name": "", "steps": [{"method": "finetune"}]}) == "fine-tune"


def test_the_recorder_stores_the_stack_name_and_the_repository_lists_the_stack(tmp_path):
    from core import events as ev
    from core.db import Recorder, Repository, open_database

    recipe = Recipe(name="untitled", steps=[Step("finetune", {}), Step("quant.kbit", {"bits": 3})])
    bus = ev.EventBus()
    with open_database(f"sqlite:///{tmp_path / 'runs.db'}") as db:
        with Recorder(db, bus):
            bus.publish(ev.RunStarted("r1", recipe=recipe.to_dict(), device="cpu", step_titles=("a", "b")))
            bus.publish(ev.RunFinished("r1", results={"accuracy": 0.8, "size_bytes": 2e6}))
        [row] = Repository(db).list_runs()
    assert row.name == row.stack == "fine-tune \u2192 3-bit"
    assert row.size_bytes == 2e6


def test_the_new_pruning_methods_have_phrases_of_their_own():
    from core.naming import step_phrase

    assert step_phrase("prune.movement", {}) == "movement heads 50 %, FFN 50 %"
    assert step_phrase("prune.movement", {"granularity": "weights", "final_sparsity": 0.7}) == "movement 70 %"
    assert step_phrase("prune.rpp", {"target_sparsity": 0.6}) == "RPP 60 %"
    assert step_phrase("prune.rpp", {}) == "RPP"
    assert step_phrase("prune.vocabulary", {}) == "vocabulary"
    assert step_phrase("quant.kbit", {"bits_from": "hessian", "budget_bits": 3.5}) == "3.5-bit average (Hessian)"
    assert step_phrase("quant.kbit", {"bits": 4}) == "4-bit"
