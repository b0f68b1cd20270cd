"""One type per kind of study: the file's ``kind`` picks it; the file format and the messages stay as they were."""

from __future__ import annotations

import dataclasses

import pytest

from core.study.spec import GridStudy, OrderStudy, SearchStudy, StudyError, StudySpec
from tests.core.study.test_spec import template

SECTIONS = {
    "order": {"steps": [2, 3], "orders": [[2, 3], [3, 2]], "full": False},
    "grid": {"variants": [{"name": "light", "settings": {2: {"amount": 0.3}}, "skip": [4]}]},
    "search": {"params": [{"step": 2, "setting": "amount", "low": 0.2, "high": 0.7}], "optional": [4],
               "sampler": "nsga2", "pruner": "none"},
}


@pytest.mark.parametrize("kind, cls", [("order", OrderStudy), ("grid", GridStudy), ("search", SearchStudy)])
def test_the_kind_picks_the_type_and_only_it_carries_its_section(kind, cls):
    data = {"kind": kind, "name": f"a {kind}", "recipe": template().to_dict(), kind: SECTIONS[kind],
            "objective": ["accuracy", {"figure": "latency_ms", "direction": "minimize"}],
            "constraints": ["speedup >= 2"], "budget": {"trials": 3}, "seed": 7}
    spec = StudySpec.from_dict(data)
    assert type(spec) is cls and isinstance(spec, StudySpec) and spec.kind == kind
    # the shared fields live on the base, each kind's own on its type alone
    shared = {f.name for f in dataclasses.fields(StudySpec)}
    assert shared == {"name", "recipe", "objective", "constraints", "max_trials", "seconds", "seed", "source"}
    own = {f.name for f in dataclasses.fields(cls)} - shared
    assert own == {"order": {"order_steps", "orders", "full"}, "grid": {"variants"},
                   "search": {"params", "optional", "sampler", "pruner"}}[kind]
    assert (spec.name, spec.max_trials, spec.seed, spec.multi_objective) == (f"a {kind}", 3, 7, True)
    # the file format is unchanged: what is recorded reads back as the same study
    again = StudySpec.from_dict(spec.to_dict())
    assert type(again) is cls and again == spec
    assert cls.from_dict(data) == spec


def test_each_kind_reads_its_section():
    order = StudySpec.from_dict({"kind": "order", "recipe": template().to_dict(), "order": SECTIONS["order"]})
    assert (order.order_steps, order.orders, order.full) == ((2, 3), ((2, 3), (3, 2)), False)
    grid = StudySpec.from_dict({"kind": "grid", "recipe": template().to_dict(), "grid": SECTIONS["grid"]})
    assert grid.variants == ({"name": "light", "settings": {2: {"amount": 0.3}}, "skip": [4]},)
    search = StudySpec.from_dict({"kind": "search", "recipe": template().to_dict(), "search": SECTIONS["search"],
                                  "budget": {"seconds": 60}})
    assert [(p.step, p.setting, p.low, p.high) for p in search.params] == [(2, "amount", 0.2, 0.7)]
    assert (search.optional, search.sampler, search.pruner, search.seconds) == ((4,), "nsga2", "none", 60)


def test_an_unknown_kind_still_reports_every_other_problem():
    with pytest.raises(StudyError) as err:
        StudySpec.from_dict({"kind": "sweep", "recipe": template().to_dict(), "order": {"steps": [2, 3]},
                             "budget": {"turns": 1}, "seed": "x"})
    assert err.value.problems == [
        "kind: must be one of order, grid, search; got 'sweep'",
        "order: only a order study has this section (kind is 'sweep')",
        "budget: unknown key 'turns' (known: seconds, trials)",
        "seed: expected a whole number, got 'x'",
    ]


def test_only_a_search_needs_a_budget():
    with pytest.raises(StudyError, match="budget: a search needs trials and/or seconds"):
        StudySpec.from_dict({"kind": "search", "recipe": template().to_dict(), "search": SECTIONS["search"]})
    grid = StudySpec.from_dict({"kind": "grid", "recipe": template().to_dict(), "grid": SECTIONS["grid"]})
    assert grid.max_trials is None and grid.seconds is None
