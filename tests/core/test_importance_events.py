"""Importance scores and keep/remove masks are two events: a sensitivity step sends scores, a pruning step a 0/1
mask; both reach this process from the run worker and are recorded apart in the step's summary."""

from __future__ import annotations

import pickle

import pytest

from core import events as ev
from core.db import Recorder, Repository, open_database
from core.recipe import Step
from tests.conftest import tiny_recipe

SENSITIVITY = {"measure": "gradient", "batches": 2, "batch_size": 8, "eval_samples": 32}
HEADS = {"amount": 0.5, "batches": 2, "batch_size": 8}


def _recipe():
    recipe = tiny_recipe(Step("finetune", {"max_steps": 2, "batch_size": 16}), Step("analyze.sensitivity", SENSITIVITY),
                         Step("prune.heads", HEADS), train=64)
    recipe.data.validation_samples = recipe.data.test_samples = recipe.evaluation.max_samples = 32
    return recipe


def test_a_mask_holds_only_keep_and_remove():
    assert ev.MaskUpdate("r", index=0, kind="heads", mask=((1.0, 0.0), (1, 1))).mask[0] == (1.0, 0.0)
    with pytest.raises(ValueError, match="ImportanceUpdate"):
        ev.MaskUpdate("r", index=0, kind="heads", mask=((1.0, 0.4),))
    scores = ev.ImportanceUpdate("r", index=1, kind="heads", scores=((0.2, 1.0),), metric="gradient",
                                 scale="scaled", levels=(0.0, 1.0))
    assert pickle.loads(pickle.dumps(scores)) == scores  # what the worker's pipe does to it


def test_sensitivity_sends_importance_and_pruning_a_mask_through_the_worker_and_both_are_recorded(
        worker_engine, tmp_path):
    seen: list[ev.Event] = []
    unsubscribe = worker_engine.bus.subscribe(ev.Event, seen.append)
    try:
        with open_database(f"sqlite:///{tmp_path / 'runs.db'}") as db, Recorder(db, worker_engine.bus):
            handle = worker_engine.start(_recipe())
            result = handle.join(240)
            assert result is not None and result.status == "finished", result and result.error
            run = Repository(db).get_run(handle.run_id)
    finally:
        unsubscribe()
    scores = [e for e in seen if isinstance(e, ev.ImportanceUpdate)]
    masks = [e for e in seen if isinstance(e, ev.MaskUpdate)]
    # The analysis (step 2) scores the 2 x 4 heads of the tiny model; it removes nothing, so it sends no mask.
    assert [(e.index, e.kind, e.metric, e.levels) for e in scores] == [(1, "heads", "gradient", (0.0, 1.0))]
    values = [v for row in scores[0].scores for v in row]
    assert [len(r) for r in scores[0].scores] == [4, 4] and max(values) == 1.0 and min(values) >= 0.0
    assert len(set(values)) > 2  # real scores, not a mask
    assert "L2 norm" in scores[0].scale
    # Pruning (step 3) sends which heads it keeps: only 0 and 1, half of them removed.
    assert masks and {e.index for e in masks} == {2} and {e.kind for e in masks} == {"heads"}
    last = [v for row in masks[-1].mask for v in row]
    assert set(last) == {0.0, 1.0} and last.count(0.0) == 4
    steps = {s.index: s.summary for s in run.steps}
    assert "masks" not in steps[1] and steps[1]["importance"]["heads"]["scores"] == [list(r) for r in scores[0].scores]
    assert steps[1]["importance"]["heads"]["metric"] == "gradient"
    assert "importance" not in steps[2] and steps[2]["masks"]["heads"] == [list(r) for r in masks[-1].mask]
