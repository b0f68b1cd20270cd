"""Property-based fuzzing of study files (Hypothesis), like the recipes' (tests/core/test_recipe_fuzz.py).

Any text, and any mutation of a real study file, either reads as a study whose fields are what a study needs
or is refused with a :class:`StudyError` that says what is wrong: never another exception, each example in
bounded time and memory, and reading a study never touches the database (the study is recorded only by
``create_study``, after it has been read).
"""

from __future__ import annotations

import copy
import math
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.recipe import NAME_LENGTH, Step
from core.scoring import FIGURES
from core.study.plan import plan
from core.study.spec import StudyError, StudySpec
from core.study.spec_fields import MAX_SECONDS, MAX_TRIALS
from tests.conftest import tiny_recipe

FUZZ = settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
                database=None)
MEMORY_LIMIT = 64 << 20  # bytes Python may allocate while reading one study file
TIME_LIMIT = 5.0  # seconds to read one study file

TEMPLATE = tiny_recipe(Step("finetune", {"max_steps": 2}), Step("prune.heads", {"amount": 0.5}),
                       Step("prune.ffn", {"amount": 0.5}), Step("quant.dynamic_int8")).to_dict()
BASES = {
    "order": {"format": "bert-studio-study", "version": 1, "name": "fuzz", "kind": "order", "recipe": TEMPLATE,
              "order": {"steps": [2, 3], "full": True}, "objective": "accuracy_retained",
              "constraints": ["speedup >= 1"], "budget": {"trials": 4}, "seed": 1},
    "grid": {"name": "fuzz", "kind": "grid", "recipe": TEMPLATE,
             "grid": {"variants": [{"name": "light", "settings": {2: {"amount": 0.3}}, "skip": [4]}]},
             "objective": {"kind": "geomean", "weights": {"accuracy_retained": 2, "speedup": 1}}},
    "search": {"name": "fuzz", "kind": "search", "recipe": TEMPLATE,
               "search": {"params": [{"step": 2, "setting": "amount", "low": 0.2, "high": 0.7},
                                     {"step": 3, "setting": "amount", "choices": [0.25, 0.5]}],
                          "optional": [4], "sampler": "tpe", "pruner": "median"},
               "objective": ["accuracy_retained", {"figure": "latency_ms", "direction": "minimize"}],
               "budget": {"trials": 3, "seconds": 600}},
}
for _base in BASES.values():  # import the methods and scores now, not inside the first timed example
    _spec = StudySpec.from_dict(_base)
    if _spec.kind != "search":
        plan(_spec)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40), st.text(min_size=190, max_size=400),
    st.sampled_from(["order", "grid", "search", "accuracy_retained", "speedup >= 3", "acuracy_retained >= 0.5",
                     "__import__", "geomean", "tpe", "nsga2", "median", "all", ".nan", "1e15", ""]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                      max_leaves=10)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "recipe":  # the template's own fuzzing is the recipes' test
                yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


@st.composite
def mutated_studies(draw):
    data = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    paths = list(_paths(data))[1:]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        parent = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            action = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
            if action == "set":
                parent[path[-1]] = draw(values)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[draw(st.text(max_size=10))] = draw(values)
            elif isinstance(parent, list):
                parent.append(draw(values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced the way there
    return data


def _bounded(read):
    """``read()`` in bounded time and with Python's allocations bounded."""
    tracemalloc.start()
    began = time.perf_counter()
    try:
        return read()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_LIMIT, f"reading one study allocated {peak / 2**20:.0f} MiB"
        assert time.perf_counter() - began < TIME_LIMIT


def _check_a_valid_study(spec: StudySpec) -> None:
    event(f"valid {spec.kind}")
    assert spec.kind in ("order", "grid", "search")
    assert isinstance(spec.name, str) and 0 < len(spec.name) <= NAME_LENGTH
    assert isinstance(spec.seed, int) and not isinstance(spec.seed, bool) and spec.seed >= 0
    assert spec.max_trials is None or (isinstance(spec.max_trials, int) and 1 <= spec.max_trials <= MAX_TRIALS)
    assert spec.seconds is None or (math.isfinite(spec.seconds) and 0 < spec.seconds <= MAX_SECONDS)
    for constraint in spec.constraints:
        assert constraint.figure in FIGURES and math.isfinite(constraint.bound)
    if spec.multi_objective:
        assert all(item["figure"] in FIGURES for item in spec.objective)
    else:
        from core.study.objective import Objective

        value = Objective(spec.objective).score({k: 1.0 for k in FIGURES})
        assert isinstance(value, float)
    if spec.kind in ("order", "grid"):
        for trial in plan(spec):  # every trial's run name fits the run name limit
            assert len(trial.recipe.name) <= NAME_LENGTH and len(trial.label) <= NAME_LENGTH
    # What reads saves and reads again to the same study.
    again = StudySpec.from_dict(spec.to_dict())
    assert (again.kind, again.name, again.seed, again.max_trials, again.seconds, again.constraints) == \
        (spec.kind, spec.name, spec.seed, spec.max_trials, spec.seconds, spec.constraints)


def _refused(error: StudyError) -> None:
    event("refused")
    assert error.problems and all(isinstance(p, str) and p.strip() for p in error.problems)
    assert "Traceback" not in str(error)
    assert len(str(error)) < 20_000  # a value of a megabyte never becomes a message of a megabyte


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """Reading a study file must never open a database: any attempt fails the test."""
    import core.db

    def refuse(*args, **kwargs):
        raise AssertionError("reading a study file opened the database")

    monkeypatch.setattr(core.db, "open_database", refuse)


@FUZZ
@given(mutated_studies())
def test_mutated_studies_read_or_are_refused_with_a_message(data):
    try:
        spec = _bounded(lambda: StudySpec.from_dict(data))
    except StudyError as error:
        _refused(error)
    else:
        _check_a_valid_study(spec)


def _text_mutations(text: str):
    position = st.integers(0, len(text))
    return st.lists(st.tuples(position, st.integers(0, 8), st.sampled_from(
        ["", ":", " ", "\n", "-", "[", "]", "{", "}", "&a ", "*a", "!!python/object:os.system ", "'", '"', "\t", "#",
         ".nan", ".inf", "1e15", "1e999", "\x00", "\ufeff", "seed: *a\n", "<<: *a\n", "name: &a [*a, *a]\n"])),
        min_size=1, max_size=6)


def _mutate(text: str, edits) -> str:
    for position, length, insert in edits:
        position = min(position, len(text))
        text = text[:position] + insert + text[position + length:]
    return text


@pytest.mark.parametrize("kind", sorted(BASES))
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_mutated_study_files_read_or_are_refused_in_bounded_time_and_memory(kind, fmt):
    import json

    import yaml

    text = json.dumps(BASES[kind], indent=1) if fmt == "json" else yaml.safe_dump(BASES[kind], sort_keys=False)

    @settings(max_examples=25, deadline=5000, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
              database=None)
    @given(_text_mutations(text))
    def check(edits):
        try:
            spec = _bounded(lambda: StudySpec.from_text(_mutate(text, edits), fmt))
        except StudyError as error:
            _refused(error)
        else:
            _check_a_valid_study(spec)

    check()


@settings(max_examples=40, deadline=5000, derandomize=True, database=None)
@given(st.text(max_size=300))
def test_any_text_is_a_study_or_refused_with_a_message(text):
    for fmt in ("yaml", "json"):
        try:
            spec = _bounded(lambda: StudySpec.from_text(text, fmt))
        except StudyError as error:
            _refused(error)
        else:
            _check_a_valid_study(spec)


@settings(max_examples=30, deadline=5000, derandomize=True, database=None)
@given(st.binary(max_size=200))
def test_any_bytes_in_a_study_file_read_or_are_refused(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "study.yaml"
    path.write_bytes(raw)
    try:
        spec = _bounded(lambda: StudySpec.load(path))
    except StudyError as error:
        _refused(error)
    else:
        _check_a_valid_study(spec)
