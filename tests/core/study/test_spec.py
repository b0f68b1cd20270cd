"""Study files: validation naming each field, order and grid plans, search proposals."""

from __future__ import annotations

import pytest

from core.recipe import Step
from core.study.plan import arrange, order_arrangements, plan
from core.study.spec import StudyError, StudySpec
from tests.conftest import tiny_recipe


def template():
    return tiny_recipe(Step("finetune", {"max_steps": 2}), Step("prune.heads", {"amount": 0.5}),
                       Step("prune.ffn", {"amount": 0.5}), Step("quant.dynamic_int8"))


def study(**fields):
    return StudySpec.from_dict({"kind": "order", "recipe": template().to_dict(), **fields})


def test_order_plan_runs_each_step_alone_then_every_order_and_skips_refused_ones():
    spec = study(order={"steps": [2, 3, 4]})
    arrangements = order_arrangements(spec)
    assert arrangements[:3] == [(2,), (3,), (4,)]
    assert len(arrangements) == 3 + 6 + 6 and len(set(arrangements)) == len(arrangements)
    trials = plan(spec)
    by_order = {tuple(t.params["order"]): t for t in trials}
    assert [s.method for s in by_order[(3, 2)].recipe.steps] == ["finetune", "prune.ffn", "prune.heads"]
    assert [s.method for s in by_order[(4,)].recipe.steps] == ["finetune", "quant.dynamic_int8"]
    # int8 before a pruning step is refused by the stack validator: the trial is planned, with the reason.
    assert by_order[(4, 2)].problems and "cannot run after" in by_order[(4, 2)].problems[0]
    assert not by_order[(2, 3, 4)].problems
    assert by_order[(2, 3)].label == "Attention-head pruning -> FFN neuron pruning"


def test_orders_ticked_by_hand_and_no_full_orders():
    spec = study(order={"steps": [2, 3, 4], "orders": [[3, 2]], "full": False})
    assert order_arrangements(spec) == [(2,), (3,), (4,), (3, 2)]
    assert [s.method for s in arrange(template(), (2, 3), (3, 2)).steps] == \
        ["finetune", "prune.ffn", "prune.heads", "quant.dynamic_int8"]


def test_grid_variants_override_settings_and_skip_steps():
    spec = StudySpec.from_dict({"kind": "grid", "recipe": template().to_dict(), "grid": {"variants": [
        {"name": "light", "settings": {2: {"amount": 0.25}}, "skip": [4]}, {"name": "as is"}]}})
    light, as_is = plan(spec)
    assert light.recipe.steps[1].settings["amount"] == 0.25 and len(light.recipe.steps) == 3
    assert as_is.recipe.to_dict()["steps"] == template().to_dict()["steps"]


def test_every_problem_is_named_by_its_field():
    with pytest.raises(StudyError) as err:
        StudySpec.from_dict({"kind": "search", "recipe": template().to_dict(), "colour": 1,
                             "search": {"params": [{"step": 7, "setting": "amount", "low": 0.2, "high": 0.7},
                                                   {"step": 2, "setting": "amount", "low": 0.7, "high": 0.2},
                                                   {"step": 2, "setting": "amount", "low": 0.2, "high": 3.0}],
                                        "sampler": "random"},
                             "objective": "speedp", "constraints": ["speedup = 3"], "budget": {}})
    text = str(err.value)
    for expected in ("unknown top-level key 'colour'", "search.params[1].step: step 7 does not exist "
                     "(the template has 4 steps)", "search.params[2]: low must be below high",
                     "search.params[3]: step 2 (prune.heads), field 'amount'", "search.sampler: one of tpe, nsga2",
                     "objective: score formula 'speedp': unknown name 'speedp'; did you mean 'speedup'?",
                     "constraints[1]: write 'figure >= number'", "budget: a search needs trials and/or seconds"):
        assert expected in text, (expected, text)
    with pytest.raises(StudyError, match="order.steps: pick 2 to 4 steps"):
        study(order={"steps": [2]})
    with pytest.raises(StudyError, match="grid: only a grid study has this section"):
        study(order={"steps": [2, 3]}, grid={"variants": []})


def test_constraints_read_percent_and_give_optuna_slack():
    spec = study(order={"steps": [2, 3]}, constraints=["accuracy_retained >= 98 %", "latency_ms < 20"])
    retained, latency = spec.constraints
    assert retained.bound == pytest.approx(0.98)
    assert retained.slack({"accuracy_retained": 0.99}) == pytest.approx(-0.01)
    assert retained.slack({}) == 1.0 and not retained.holds({"accuracy_retained": float("nan")})
    assert latency.holds({"latency_ms": 10}) and not latency.holds({"latency_ms": 20})


def test_search_proposals_are_recipes_within_the_ranges():
    import optuna

    from core.study.search import suggest

    spec = StudySpec.from_dict({"kind": "search", "recipe": template().to_dict(), "budget": {"trials": 5},
                                "search": {"params": [{"step": 2, "setting": "amount", "low": 0.2, "high": 0.7},
                                                      {"step": 3, "setting": "amount", "choices": [0.25, 0.5]}],
                                           "optional": [4]}})
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_skip = set()
    for _ in range(8):
        trial = ostudy.ask()
        recipe, params, label = suggest(trial, spec)
        heads = next(s for s in recipe.steps if s.method == "prune.heads")
        ffn = next(s for s in recipe.steps if s.method == "prune.ffn")
        assert 0.2 <= heads.settings["amount"] <= 0.7 and ffn.settings["amount"] in (0.25, 0.5)
        uses_int8 = any(s.method == "quant.dynamic_int8" for s in recipe.steps)
        assert params["use.4.quant.dynamic_int8"] == uses_int8
        seen_skip.add(uses_int8)
        assert not recipe.problems() and "prune.heads.amount=" in label
        ostudy.tell(trial, 0.0)
    assert seen_skip == {True, False}

