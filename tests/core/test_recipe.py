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
    assert any("step 2 (prune.magnitude), field 'sparsity'" in str(p) and "at most 0.99" in str(p) for p in problems)
    assert any("field 'scpoe'" in str(p) and "unknown setting" in str(p) for p in problems)
    sparsity = next(p for p in problems if p.field == "sparsity")
    assert (sparsity.step, sparsity.method) == (1, "prune.magnitude")  # the studio's row, 0-based
    with pytest.raises(RecipeError) as info:
        recipe.validate()
    assert "sparsity" in str(info.value)


def test_unknown_method_is_named():
    problems = tiny_recipe(Step("prune.nonsense")).problems()
    assert problems and "step 1 (prune.nonsense)" in str(problems[0]) and "unknown method" in str(problems[0])
    assert problems[0].step == 0 and problems[0].field is None


def test_training_after_int8_is_rejected_with_a_way_out():
    problems = tiny_recipe(Step("quant.dynamic_int8"), Step("finetune")).problems()
    assert len(problems) == 1
    text = str(problems[0])
    assert "step 2 (finetune)" in text and "cannot train after step 1" in text
    assert "move it before" in text and problems[0].step == 1
    assert tiny_recipe(Step("quant.dynamic_int8"), Step("evaluate")).problems() == []


def test_malformed_documents_are_rejected_clearly():
    with pytest.raises(RecipeError, match="not valid YAML"):
        Recipe.from_text("steps: [unclosed")
    with pytest.raises(RecipeError, match="must be a mapping"):
        Recipe.from_text("- just\n- a list\n")
    with pytest.raises(RecipeError, match="stepz: unknown top-level key"):
        Recipe.from_dict({"stepz": []})
    with pytest.raises(RecipeError, match="newer than this studio"):
        Recipe.from_dict({"version": 99})


def test_wrong_types_are_reported_not_coerced_silently():
    problems = tiny_recipe(Step("finetune", {"batch_size": 2.5, "epochs": "many"})).problems()
    assert any(p.field == "batch_size" and "whole number" in p.message for p in problems)
    assert any(p.field == "epochs" and "expected a number" in p.message for p in problems)


def _refused(text: str, fmt: str = "yaml") -> RecipeError:
    with pytest.raises(RecipeError) as info:
        Recipe.from_text(text, fmt).validate()
    return info.value


@pytest.mark.parametrize("text, field", [
    ("data: {max_length: -5}", "data.max_length"),
    ("data: {max_length: 0}", "data.max_length"),
    ("data: {max_length: 100000}", "data.max_length"),
    ("data: {train_samples: -5}", "data.train_samples"),
    ("data: {train_samples: 0}", "data.train_samples"),
    ("data: {train_samples: abc}", "data.train_samples"),
    ("data: {train_samples: .nan}", "data.train_samples"),
    ("data: {seed: .inf}", "data.seed"),
    ("evaluation: {latency_repeats: -3}", "evaluation.latency_repeats"),
    ("evaluation: {split: bogus}", "evaluation.split"),
    ("evaluation: {measure_baseline: maybe}", "evaluation.measure_baseline"),
    ("seed: abc", "seed"),
    ("seed: -1", "seed"),
    ("device: tpu", "device"),
    ("device: [cpu]", "device"),
    ("model: {source: 5}", "model.source"),
    ("model: 5", "model"),
    ("data: {text_column: [a, b]}", "data.text_column"),
    ("data: {colour: red}", "data.colour"),
    ("name: [a, b]", "name"),
    ("name: " + "x" * 201, "name"),
    ("steps: {finetune: {}}", "steps"),
])
def test_every_recipe_field_is_typed_and_named(text, field):
    error = _refused(text)
    assert field in [p.field for p in error.problems], error.problems
    assert f"{field}:" in str(error)


@pytest.mark.parametrize("settings, field", [
    ("{epochs: .nan}", "epochs"),
    ("{learning_rate: .nan}", "learning_rate"),
    ("{learning_rate: .inf}", "learning_rate"),
    ("{epochs: -.inf}", "epochs"),
])
def test_nan_and_infinity_are_refused_in_method_settings(settings, field):
    error = _refused(f"steps:\n  - method: finetune\n    settings: {settings}\n")
    problem = error.problems[0]
    assert (problem.step, problem.field) == (0, field) and "finite" in problem.message
    assert f"step 1 (finetune), field '{field}'" in str(error)


def test_list_items_are_typed():
    error = _refused("steps:\n  - method: distill.student_init\n    settings: {keep_layers: [0, .nan, x]}\n")
    assert error.problems[0].field == "keep_layers" and "item 2" in error.problems[0].message


def test_step_label_and_method_must_be_short_text():
    error = _refused("steps:\n  - method: finetune\n    label: [a, b]\n")
    assert (error.problems[0].step, error.problems[0].field) == (0, "label")
    assert "step 1 (finetune), field 'label': expected text" in str(error)
    error = _refused("steps:\n  - method: finetune\n    label: " + "y" * 500 + "\n")
    assert "at most 200 characters; got 500" in str(error)
    error = _refused("steps:\n  - method: [finetune]\n")
    assert "step 1, field 'method': expected text" in str(error)
    problems = tiny_recipe(Step("finetune", label=["built", "in", "code"])).problems()  # the studio builds recipes too
    assert [(p.step, p.field) for p in problems] == [(0, "label")]


def test_recipes_built_in_code_are_checked_like_files():
    recipe = tiny_recipe(Step("finetune"))
    recipe.data.train_samples = float("nan")
    recipe.evaluation.split = "bogus"
    recipe.seed = "abc"
    assert {p.field for p in recipe.problems()} == {"data.train_samples", "evaluation.split", "seed"}


def test_valid_values_are_coerced_once():
    recipe = Recipe.from_text("data: {max_length: '48', train_samples: 100.0}\nseed: 3\n")
    assert recipe.data.max_length == 48 and recipe.data.train_samples == 100 and isinstance(recipe.data.train_samples, int)


def test_a_key_given_twice_is_refused():
    error = _refused("steps:\n  - method: finetune\n    settings:\n      epochs: 1\n      epochs: 3\n")
    assert error.problems[0].field == "epochs" and "given twice (again on line 5)" in str(error)
    error = _refused('{"name": "a", "name": "b"}', "json")
    assert "name: given twice" in str(error)


def test_alias_bombs_are_refused_before_they_expand():
    levels = ["a0: &a0 [" + ", ".join(["x" * 10] * 10) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    for where in ("name: *a8", "steps:\n  - method: finetune\n    label: *a8", "data: {max_length: *a8}"):
        text = "x-anchors:\n" + "\n".join("  " + line for line in levels) + "\n" + where + "\n"
        with pytest.raises(RecipeError, match="aliases"):
            Recipe.from_text(text)
    many = "base: &b 1\nlist: [" + ", ".join(["*b"] * 150) + "]\n"
    with pytest.raises(RecipeError, match="more than 100 YAML aliases"):
        Recipe.from_text(many)
    with pytest.raises(RecipeError, match="refers to itself"):
        Recipe.from_text("name: &n [*n]\n")
    # An ordinary alias still works.
    recipe = Recipe.from_text("steps:\n  - {method: finetune, settings: &s {epochs: 1}}\n  - {method: finetune, settings: *s}\n")
    assert recipe.steps[1].settings == {"epochs": 1}


def test_oversized_deep_and_broken_documents_are_refused(tmp_path):
    with pytest.raises(RecipeError, match="nested too deeply"):
        Recipe.from_text("[" * 5000 + "]" * 5000)
    with pytest.raises(RecipeError, match="nested too deeply"):
        Recipe.from_text("[" * 5000 + "]" * 5000, "json")
    with pytest.raises(RecipeError, match="not valid YAML"):
        Recipe.from_text("name: 2024-13-45\n")  # a date PyYAML recognises but cannot build
    with pytest.raises(RecipeError, match="a few kilobytes"):
        Recipe.from_text("#" * (2 << 20))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (2 << 20))
    with pytest.raises(RecipeError, match="larger than 1024 KiB"):
        Recipe.load(big)
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(RecipeError, match="not UTF-8 text"):
        Recipe.load(latin)


def test_problem_text_is_the_line_the_user_reads():
    from core.errors import Problem

    assert str(Problem("must be at most 0.99; got 2", step=0, method="prune.magnitude", field="sparsity")) == \
        "step 1 (prune.magnitude), field 'sparsity': must be at most 0.99; got 2"
    assert str(Problem("must be at least 8; got 0", field="data.max_length")) == "data.max_length: must be at least 8; got 0"
    assert str(Problem("the stack is empty")) == "the stack is empty"
    assert RecipeError(["plain text"]).problems == [Problem("plain text")]
