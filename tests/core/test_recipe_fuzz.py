"""Property-based fuzzing of recipe loading and validation (Hypothesis).

Random and mutated recipes, as data and as text, either validate or are refused
with a :class:`RecipeError`: never another exception, never a refusal that does
not say where (a field or a step), and each example in bounded time and memory.
A recipe that validates is one a run can start from: every field has its type
and every step's settings build its config.
"""

from __future__ import annotations

import copy
import math
import tracemalloc

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.errors import RecipeError, StudioError
from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

FUZZ = settings(max_examples=80, deadline=5000, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
                database=None)
MEMORY_LIMIT = 64 << 20  # bytes Python may allocate while reading one example (a real recipe needs well under 1 MB)

BASE = Recipe(
    name="fuzz", model=ModelRef("tiny"), data=DataRef(max_length=32, train_samples=64),
    steps=[Step("finetune", {"epochs": 1, "batch_size": 8}), Step("prune.magnitude", {"sparsity": 0.3}, label="cut"),
           Step("quant.dynamic_int8")],
    evaluation=EvaluationSettings(latency_repeats=2),
).to_dict()
for _step in Recipe.from_dict(BASE).validate().steps:  # import the methods now, not inside the first timed example
    _step.config()

# Values a hand-edited or hostile recipe may hold anywhere.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), st.text(min_size=190, max_size=600),
    st.sampled_from(["auto", "cpu", "cuda:0", "tiny", "default", "test", "bogus", "finetune", "1e3", ".nan", ""]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)


def _paths(node, prefix=()):
    """Every place in a nested recipe dict a mutation can hit."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


PATHS = list(_paths(BASE))[1:]


@st.composite
def mutated_dicts(draw):
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        try:
            for part in path[:-1]:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced the way there
        action = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        try:
            if action == "set":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=12))] = draw(values)
            elif isinstance(parent, list):
                parent.append(draw(values))
        except (KeyError, IndexError, TypeError):
            continue
    return data


def _check_a_valid_recipe(recipe: Recipe) -> None:
    event("valid")  # --hypothesis-show-statistics: how many examples reach each side
    assert isinstance(recipe.name, str) and len(recipe.name) <= 200
    assert isinstance(recipe.seed, int) and not isinstance(recipe.seed, bool) and recipe.seed >= 0
    assert isinstance(recipe.model.source, str) and recipe.model.source
    assert isinstance(recipe.data.max_length, int) and 8 <= recipe.data.max_length <= 512
    for count in (recipe.data.train_samples, recipe.data.validation_samples, recipe.data.test_samples):
        assert count is None or (isinstance(count, int) and count > 0)
    assert recipe.evaluation.split in ("train", "validation", "test")
    assert isinstance(recipe.evaluation.latency_repeats, int) and recipe.evaluation.latency_repeats >= 1
    for step in recipe.steps:
        assert isinstance(step.method, str) and (step.label is None or isinstance(step.label, str))
        config = step.config()  # what the run builds: must not raise once validated
        for value in vars(config).values():
            assert not (isinstance(value, float) and not math.isfinite(value))
    # What validates saves and reloads to the same recipe.
    again = Recipe.from_text(recipe.to_text()).validate()
    assert again.to_dict() == recipe.to_dict()


def _refused_where(error: RecipeError) -> None:
    event("refused")
    assert error.problems
    for problem in error.problems:
        assert problem.field is not None or problem.step is not None, f"a problem that says not where: {problem}"


def _bounded(read):
    """Run ``read()`` with Python's allocations traced; fail when it needs more than MEMORY_LIMIT."""
    tracemalloc.start()
    try:
        return read()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_LIMIT, f"reading one recipe allocated {peak / 2**20:.0f} MiB"


@FUZZ
@given(mutated_dicts())
def test_mutated_recipes_validate_or_are_refused_with_the_field(data):
    try:
        recipe = Recipe.from_dict(data).validate()
    except RecipeError as error:
        if error.problems[0].message.startswith("recipe format version"):
            return  # a version from the future: the whole file, not a field, is the problem
        _refused_where(error)
    else:
        _check_a_valid_recipe(recipe)


@FUZZ
@given(st.dictionaries(st.sampled_from(list(BASE) + ["stepz", "x"]), values, max_size=6))
def test_random_recipes_validate_or_are_refused_with_the_field(data):
    try:
        recipe = Recipe.from_dict(data).validate()
    except RecipeError as error:
        if error.problems[0].message.startswith("recipe format version"):
            return
        _refused_where(error)
    else:
        _check_a_valid_recipe(recipe)


def _text_mutations(text: str):
    position = st.integers(0, len(text))
    return st.lists(st.tuples(position, st.integers(0, 8), st.sampled_from(
        ["", ":", " ", "\n", "-", "[", "]", "{", "}", "&a ", "*a", "!!python/object:os.system ", "'", '"', "\t", "#",
         ".nan", "1e999", "\x00", "\ufeff", "epochs: 1\n", "<<: *a\n"])), min_size=1, max_size=6)


def _mutate(text: str, edits) -> str:
    for position, length, insert in edits:
        position = min(position, len(text))
        text = text[:position] + insert + text[position + length:]
    return text


YAML_TEXT = Recipe.from_dict(BASE).to_text("yaml")
JSON_TEXT = Recipe.from_dict(BASE).to_text("json")


@pytest.mark.parametrize("fmt, text", [("yaml", YAML_TEXT), ("json", JSON_TEXT)])
def test_mutated_recipe_files_load_or_are_refused_in_bounded_memory(fmt, text):
    @FUZZ
    @given(_text_mutations(text))
    def check(edits):
        mutated = _mutate(text, edits)
        try:
            recipe = _bounded(lambda: Recipe.from_text(mutated, fmt).validate())
        except StudioError:
            event("refused")
            return  # a parse error says what is wrong with the file; a field error says where
        _check_a_valid_recipe(recipe)

    check()


@settings(max_examples=40, deadline=5000, derandomize=True, database=None)
@given(st.text(max_size=300))
def test_random_text_is_a_recipe_or_refused(text):
    for fmt in ("yaml", "json"):
        try:
            _bounded(lambda: Recipe.from_text(text, fmt).validate())
        except StudioError:
            pass
