import pytest

from core.errors import RecipeError
from core.recipe import Recipe, Step
from core.registry import all_methods
from tests.conftest import tiny_recipe


def test_yaml_and_json_round_trip(tmp_path):
    recipe = tiny_recipe(Step("finetune", {"epochs": 2, "learning_rate": 3e-5}), Step("prune.magnitude", {"sparsity": 0.7}), Step("quant.dynamic_int8"))
    for suffix in (".yaml", ".json"):
        path = recipe.save(tmp_path / f"r{suffix}")
        again = Recipe.load(path)
        assert again.to_dict() == recipe.to_dict()
        assert again.steps[1].config().sparsity == 0.7


def test_every_registered_method_round_trips_its_defaults():
    specs = all_methods()
    assert {"finetune", "prune.magnitude", "quant.dynamic_int8", "evaluate"} <= {s.name for s in specs}
    for spec in specs:
        recipe = tiny_recipe(Step(spec.name, spec.default_settings()))
        again = Recipe.from_text(recipe.to_text("yaml"))
        assert again.steps[0].config() == spec.config_cls(), spec.name


def test_invalid_field_names_step_and_field():
    recipe = tiny_recipe(Step("finetune"), Step("prune.magnitude", {"sparsity": 1.5, "scpoe": "global"}))
    problems = recipe.problems()
    assert any("step 2 (prune.magnitude), field 'sparsity'" in p and "at most 0.99" in p for p in problems)
    assert any("field 'scpoe'" in p and "unknown setting" in p for p in problems)
    with pytest.raises(RecipeError) as info:
        recipe.validate()
    assert "sparsity" in str(info.value)


def test_unknown_method_is_named():
    problems = tiny_recipe(Step("prune.nonsense")).problems()
    assert problems and "step 1 (prune.nonsense)" in problems[0] and "unknown method" in problems[0]


def test_training_after_int8_is_rejected_with_a_way_out():
    problems = tiny_recipe(Step("quant.dynamic_int8"), Step("finetune")).problems()
    assert len(problems) == 1
    assert "step 2 (finetune)" in problems[0] and "cannot train after step 1" in problems[0]
    assert "move it before" in problems[0]
    assert tiny_recipe(Step("quant.dynamic_int8"), Step("evaluate")).problems() == []


def test_malformed_documents_are_rejected_clearly():
    with pytest.raises(RecipeError, match="not valid YAML"):
        Recipe.from_text("steps: [unclosed")
    with pytest.raises(RecipeError, match="must be a mapping"):
        Recipe.from_text("- just\n- a list\n")
    with pytest.raises(RecipeError, match="unknown top-level key 'stepz'"):
        Recipe.from_dict({"stepz": []})
    with pytest.raises(RecipeError, match="newer than this studio"):
        Recipe.from_dict({"version": 99})


def test_wrong_types_are_reported_not_coerced_silently():
    problems = tiny_recipe(Step("finetune", {"batch_size": 2.5, "epochs": "many"})).problems()
    assert any("batch_size" in p and "whole number" in p for p in problems)
    assert any("epochs" in p and "expected a number" in p for p in problems)
