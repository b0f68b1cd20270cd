"""One place per method: a method registered with its spec alone is validated, named, refused and checked by the engine."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.applicability import applicability, apply_step, stack_problems
from core.naming import pct, stack_name
from core.recipe import Step
from core.registry import Refusal, get_method, register_method, setting
from tests.conftest import method_context, tiny_recipe

CALLS: list[str] = []


@dataclass
class WidgetSettings:
    amount: float = setting(0.5, "Share of widgets", min=0.0, max=1.0)
    mode: str = setting("plain", "How", choices=("plain", "fancy"))


def widget(state, cfg: WidgetSettings, ctx):
    CALLS.append(ctx.adapter.family)  # the engine hands the handler the adapter it checked
    return state


@pytest.fixture
def with_widget(monkeypatch):
    """``test.widget`` registered for this test only, with everything it knows in its registration."""
    from core import registry

    registry.all_methods()  # the real methods first, so the copy holds them
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    CALLS.clear()
    register_method(
        "test.widget", family="pruning", title="Widget pruning", description="Cuts widgets.", config=WidgetSettings,
        refuses=[Refusal("albert", "ALBERT has no widgets"),
                 Refusal(("mobilebert", "bert"), "fancy widgets need a wide layer", "mode", "fancy")],
        structural=True, phrase=lambda s: f"widgets {pct(s.amount)}",
    )(widget)
    return get_method("test.widget")


def test_a_method_registered_in_one_place_is_validated_named_and_refused(with_widget):
    # named: the stack's name uses the method's own phrase, defaults filled in
    assert stack_name([Step("finetune"), Step("test.widget", {"amount": 0.25}), Step("test.widget")]) == \
        "fine-tune \u2192 widgets 25 % \u2192 widgets 50 %"
    assert stack_name([Step("test.widget", {"amount": "a lot"})]) == "widgets a lot"  # typed, not yet valid
    # validated: its settings' metadata
    problems = tiny_recipe(Step("test.widget", {"amount": 2, "colour": "red"})).problems()
    assert {p.field for p in problems} >= {"amount", "colour"}
    assert not tiny_recipe(Step("test.widget", {"mode": "fancy"})).problems()  # the family is not known here
    # refused: the whole method, one setting's value (its default counts), and the model state
    assert applicability("test.widget", "albert") == \
        "test.widget cannot apply to a ALBERT model (albert): ALBERT has no widgets"
    assert applicability("test.widget", "bert", {}) is None
    assert applicability("test.widget", "bert") is None  # the palette: no settings, no setting refusal
    assert applicability("test.widget", "mobilebert", {"mode": "fancy"}) == (
        "test.widget with mode: fancy cannot apply to a MobileBERT model (mobilebert): fancy widgets need a wide layer")
    assert applicability("test.widget", "roberta", {"mode": "fancy"}) is None
    problems = stack_problems([("test.widget", {}), ("quant.dynamic_int8", {}), ("test.widget", {})], "bert")
    assert [i for i, _ in problems] == [2] and "int8 or k-bit weights" in problems[0][1]
    assert with_widget.is_structural(None) and with_widget.cacheable and len(with_widget.version) == 16


def test_registration_refuses_a_refusal_on_a_setting_the_method_lacks(with_widget):
    with pytest.raises(ValueError, match="colour"):
        register_method("test.bad", family="pruning", title="t", description="d", config=WidgetSettings,
                        refuses=[Refusal("bert", "no", "colour", "red")])


def test_every_refusal_names_a_known_family_and_every_method_has_a_phrase():
    from core.models.adapters import families
    from core.models.student_families import STUDENT_FAMILIES
    from core.registry import all_methods

    known = set(families()) | set(STUDENT_FAMILIES)  # encoder families, and the BiLSTM / CNN students (#24)
    for spec in all_methods():
        for refusal in spec.refuses:
            assert set(refusal.families) <= known, (spec.name, refusal)
        assert spec.phrase is not None, spec.name


def test_the_engine_refuses_before_the_handler_sees_the_model(with_widget, tiny_state, tiny_task, tmp_path):
    from core.engine import Engine
    from core.models.loading import load_model

    recipe = tiny_recipe(Step("test.widget", {"mode": "fancy"}))
    recipe.evaluation.latency_repeats, recipe.evaluation.latency_batch_size = 1, 4
    engine = Engine(workdir_root=tmp_path / "runs")
    # A caller's model skips the pre-run check of the recipe's source: the engine's own check still holds.
    state = load_model("tiny", tiny_task.num_labels, seed=0, label_names=tiny_task.label_names)
    result = engine.run(recipe, initial_state=state, task=tiny_task)
    assert result.status == "failed" and CALLS == []
    assert "test.widget with mode: fancy cannot apply to a BERT model (bert)" in result.error
    # the pre-run check says the same from the recipe's source
    result = engine.run(recipe, task=tiny_task)
    assert result.status == "failed" and CALLS == [] and "fancy widgets need a wide layer" in result.error
    # and a step that may apply runs with the adapter on ctx
    ctx = method_context(tmp_path, tiny_task, tiny_state)
    apply_step(with_widget, tiny_state, WidgetSettings(), ctx)
    assert CALLS == ["bert"]


def test_figures_a_score_may_use_are_the_figure_table():
    from core.metrics.figures import FIGURES as TABLE
    from core.scoring import FIGURES, parse_score

    assert FIGURES == tuple(f.key for f in TABLE)
    assert parse_score("accuracy_retained * evaluated").names == {"accuracy_retained", "evaluated"}  # once missing


def test_model_parameters_is_the_count_after_a_cut_and_evaluate_reports_non_zeros_apart(tiny_state, tiny_task,
                                                                                           tmp_path):
    from core.models.architecture import count_parameters
    from tests.conftest import apply_method

    ctx = method_context(tmp_path, tiny_task, tiny_state)
    out = apply_method("prune.magnitude", tiny_state, ctx, sparsity=0.5)
    apply_method("evaluate", out, ctx, max_samples=8)
    assert "model/parameters" not in ctx.seen  # zeros are no cut
    assert ctx.seen["model/nonzero_parameters"] == [count_parameters(out.model, nonzero=True)]
    out = apply_method("prune.ffn", out, ctx, amount=0.25, batches=1, batch_size=8)
    assert ctx.seen["model/parameters"] == [count_parameters(out.model)]
    assert any("FFN pruning:" in e.message and "parameters fewer" in e.message for e in ctx.events
               if hasattr(e, "message"))
