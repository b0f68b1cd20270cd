"""The step cache: a reused prefix gives the same model as recomputing it; anything that changes it is a miss."""

from __future__ import annotations

import pytest
import torch

from core import events as ev
from core.engine import Engine
from core.engine.cache import StepCache, describe_reuse
from core.recipe import Step
from tests.conftest import tiny_recipe


def teacher_then_heads(**changes):
    finetune = {"max_steps": 3, **changes.pop("finetune", {})}
    heads = {"amount": 0.5, "batches": 2, "batch_size": 8, **changes.pop("heads", {})}
    recipe = tiny_recipe(Step("finetune", finetune), Step("prune.heads", heads))
    recipe.evaluation.latency_repeats, recipe.evaluation.latency_batch_size = 1, 4  # figures are not the point
    for key, value in changes.pop("data", {}).items():
        setattr(recipe.data, key, value)
    for key, value in changes.items():
        setattr(recipe, key, value)
    return recipe


def longer():
    recipe = teacher_then_heads()
    recipe.steps.append(Step("finetune", {"max_steps": 3, "learning_rate": 1e-3}))
    return recipe


@pytest.fixture
def recorded(tmp_path, tiny_task):
    """An engine with the cache beside a database, and a recorder: (engine, db url, run results)."""
    from core.db import Recorder, open_database

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    engine = Engine(workdir_root=tmp_path / "runs", cache=StepCache.for_database(url))
    db = open_database(url)
    recorder = Recorder(db, engine.bus)
    yield engine, url
    recorder.close()
    db.close()


def test_a_reused_prefix_ends_with_the_same_weights_as_recomputing_it(recorded, tiny_task, capsys):
    engine, url = recorded
    assert engine.cache.root == (engine.cache.root.parent / "studio.step-cache")
    steps: dict[str, list] = {}
    engine.bus.subscribe(ev.StepFinished, lambda e: steps.setdefault(e.run_id, []).append(e))

    from core.cli import main

    # The first run through `bert-studio run`: it leaves its prefixes in the cache beside its database.
    path = teacher_then_heads().save(engine.cache.root.parent / "recipe.yaml")
    assert main(["run", str(path), "--quiet", "--db", url]) == 0
    first_id = capsys.readouterr().out.split()[1]
    assert len(engine.cache.entries()) == 2  # teacher, teacher + heads
    reused = engine.run(longer(), task=tiny_task)
    recipe = longer()
    recipe.cache = False  # the recipe's opt-out: every step computed, nothing read or written
    recomputed = engine.run(recipe, task=tiny_task)
    assert reused.status == recomputed.status == "finished"

    # Steps 1-2 came from the first run; step 3 was computed; the opt-out run reused nothing.
    assert describe_reuse(steps[reused.run_id]) == f"steps 1\u20132 from run {first_id[:8]}"
    assert describe_reuse(steps[recomputed.run_id]) is None
    assert len(engine.cache.entries()) == 3  # the reusing run added its 3-step prefix; the opt-out none
    # Tolerance 0: on CPU the same seeds, restored generator states and global step give the same numbers.
    a, b = reused.state.model.state_dict(), recomputed.state.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    for figure in ("accuracy", "baseline_accuracy", "size_bytes", "baseline_size_bytes", "parameters"):
        assert reused.results[figure] == recomputed.results[figure], figure  # against the same teacher

    assert main(["show", reused.run_id[:8], "--db", url]) == 0
    assert f"reused   steps 1\u20132 from run {first_id[:8]} (step cache)" in capsys.readouterr().out


def test_a_changed_setting_data_cap_or_seed_is_a_miss(tmp_path, tiny_task):
    cache = StepCache(tmp_path / "cache")
    engine = Engine(workdir_root=tmp_path / "runs", cache=cache)
    assert engine.run(teacher_then_heads(), task=tiny_task).status == "finished"

    def reused(recipe) -> int:
        found = cache.lookup(recipe)
        return 0 if found is None else found[0]

    assert reused(teacher_then_heads()) == 2
    assert reused(longer()) == 2
    assert reused(teacher_then_heads(heads={"amount": 0.25})) == 1  # the teacher still serves
    assert reused(teacher_then_heads(finetune={"max_steps": 4})) == 0
    assert reused(teacher_then_heads(finetune={"learning_rate": 1e-3})) == 0
    assert reused(teacher_then_heads(data={"train_samples": 96})) == 0
    assert reused(teacher_then_heads(data={"max_length": 24})) == 0
    assert reused(teacher_then_heads(seed=1)) == 0
    changed_eval = teacher_then_heads()
    changed_eval.evaluation.latency_repeats = 3  # measuring differently does not change the model
    assert reused(changed_eval) == 2


def test_size_cap_evicts_least_recently_used_and_cli_shows_and_clears(tmp_path, tiny_state, capsys):
    from core.cli import main
    from core.engine.cache import rng_snapshot

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    cache = StepCache.for_database(url, cap_bytes=10**12)
    meta = {"steps": 1, "methods": ["finetune"], "origins": ["a" * 32], "baseline_steps": 1, "baseline_key": None,
            "global_step": 3, "summaries": [{}]}
    for key in ("k1", "k2", "k3"):
        cache.store(key, tiny_state, meta, rng_snapshot("cpu"))
    one = cache.entries()[0].size_bytes()
    sizes = [e.size_bytes() for e in cache.entries()]  # equal to a few bytes (the metadata's text varies)
    assert len(sizes) == 3 and max(sizes) - min(sizes) < 1024 and cache.size_bytes() >= sum(sizes)
    cache.touch(cache.entry("k1"))  # k1 used last: k2 is now the least recently used
    import os
    import time

    old = time.time() - 100
    os.utime(cache.root / "k2" / "last_used", (old, old))
    os.utime(cache.root / "k3" / "last_used", (old + 1, old + 1))
    cache.cap_bytes = int(2.5 * one)
    assert cache.evict() == ["k2"]
    assert {e.key for e in cache.entries()} == {"k1", "k3"}

    assert main(["cache", "info", "--db", url]) == 0
    out = capsys.readouterr().out
    assert str(cache.root) in out and "entries    2" in out and "aaaaaaaa" in out
    assert main(["cache", "clear", "--db", url]) == 0
    assert "cleared" in capsys.readouterr().out
    assert cache.entries() == [] and cache.size_bytes() == 0


def test_pruned_weights_stay_zero_through_the_state_field_and_a_cached_prefix_restores_the_masks(tmp_path,
                                                                                               tiny_task):
    def recipe():
        r = tiny_recipe(Step("prune.magnitude", {"sparsity": 0.5}),
                        Step("finetune", {"max_steps": 3, "learning_rate": 1e-2}))
        r.evaluation.latency_repeats, r.evaluation.latency_batch_size = 1, 4
        return r

    cache = StepCache(tmp_path / "cache")
    engine = Engine(workdir_root=tmp_path / "runs", cache=cache)
    first = engine.run(recipe(), task=tiny_task)
    assert first.status == "finished", first.error
    masks = first.state.masks
    assert masks and "masks" not in first.state.extras  # the typed field, not an extras key
    params = dict(first.state.model.named_parameters())
    pruned = 0
    for name, mask in masks.items():  # the fine-tune at 1e-2 moved every weight but the pruned ones
        assert torch.all(params[name].detach()[mask == 0] == 0), name
        pruned += int((mask == 0).sum())
    assert pruned > 0

    steps, entry = cache.lookup(recipe())
    assert steps == 2 and entry.has_masks and (entry.path / "masks.safetensors").is_file()
    one_step = cache.entry(cache.prefix_keys(recipe())[1])  # the prefix ending with the pruning step
    restored = one_step.load_state(first.state.tokenizer, "cpu")
    assert restored.masks is not None and "masks" not in restored.extras
    assert restored.masks.keys() == masks.keys()
    assert all(torch.equal(restored.masks[k], masks[k]) for k in masks)
    weights = dict(restored.model.named_parameters())
    assert all(torch.all(weights[k].detach()[m == 0] == 0) for k, m in restored.masks.items())
    copy = restored.replace()
    assert copy.masks == restored.masks and copy.masks is not restored.masks  # replace() copies the field

    longer_recipe = recipe()
    longer_recipe.steps.append(Step("finetune", {"max_steps": 2, "learning_rate": 1e-2}))
    resumed = engine.run(longer_recipe, task=tiny_task)  # steps 1-2 from the cache, then training on their masks
    assert resumed.status == "finished", resumed.error
    assert resumed.state.masks.keys() == masks.keys()
    again = dict(resumed.state.model.named_parameters())
    assert all(torch.all(again[k].detach()[m == 0] == 0) for k, m in masks.items())
    assert any(not torch.equal(again[k].detach(), params[k].detach()) for k in masks)  # it did train
