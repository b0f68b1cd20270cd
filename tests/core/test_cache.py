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

    # The first run through `bert-studio run`: it keeps the teacher in the cache beside its database, and no
    # more: nothing else is known to be shared yet.
    path = teacher_then_heads().save(engine.cache.root.parent / "recipe.yaml")
    assert main(["run", str(path), "--quiet", "--db", url]) == 0
    first_id = capsys.readouterr().out.split()[1]
    assert [e.steps for e in engine.cache.entries()] == [1]
    # The same stack again: the teacher is reused, and the heads step, computed a second time, is kept now.
    again = engine.run(teacher_then_heads(), task=tiny_task)
    assert sorted(e.steps for e in engine.cache.entries()) == [1, 2]
    reused = engine.run(longer(), task=tiny_task)
    recipe = longer()
    recipe.cache = False  # the recipe's opt-out: every step computed, nothing read or written
    recomputed = engine.run(recipe, task=tiny_task)
    assert again.status == reused.status == recomputed.status == "finished"

    # Steps 1-2 came from the earlier runs; step 3 was computed; the opt-out run reused nothing.
    reuse = f"step 1 from run {first_id[:8]}, step 2 from run {again.run_id[:8]}"
    assert describe_reuse(steps[reused.run_id]) == reuse
    assert describe_reuse(steps[recomputed.run_id]) is None
    assert len(engine.cache.entries()) == 2  # the 3-step prefix was computed by one run only: not kept
    # Tolerance 0: on CPU the same seeds, restored generator states and global step give the same numbers.
    a, b = reused.state.model.state_dict(), recomputed.state.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    for figure in ("accuracy", "baseline_accuracy", "size_bytes", "baseline_size_bytes", "parameters"):
        assert reused.results[figure] == recomputed.results[figure], figure  # against the same teacher

    assert main(["show", reused.run_id[:8], "--db", url]) == 0
    assert f"reused   {reuse} (step cache)" in capsys.readouterr().out


def test_a_changed_setting_data_cap_or_seed_is_a_miss(tmp_path, tiny_task):
    cache = StepCache(tmp_path / "cache")
    engine = Engine(workdir_root=tmp_path / "runs", cache=cache)
    assert cache.expect([teacher_then_heads(), longer()]) == 2  # a study's plan: both share steps 1-2
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
    cache.expect([recipe(), recipe()])  # no teacher in this stack: keep its prefixes as a study's shared ones
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


# -- the cache follows the code, and keeps only what a later run can reuse ------------------------------------------
HANDLER = '''
from dataclasses import dataclass

from msv_pkg import helper


@dataclass
class NoSettings:
    pass


def noop(state, cfg, ctx):
    return helper.same(state)
'''


@pytest.fixture
def method_package(tmp_path, monkeypatch):
    """A package ``msv_pkg`` on the path, counted as method code, with ``msv_pkg.handler`` registered as ``test.noop``."""
    import importlib
    import sys

    from core import code_version, registry

    root = tmp_path / "src" / "msv_pkg"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "handler.py").write_text(HANDLER)
    (root / "helper.py").write_text("def same(state):\n    return state\n")
    (root / "unrelated.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setattr(code_version, "CODE_PACKAGES", code_version.CODE_PACKAGES + ("msv_pkg",))
    registry.all_methods()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    module = importlib.import_module("msv_pkg.handler")
    registry.register_method("test.noop", family="analysis", title="No-op", description="d",
                             config=module.NoSettings)(module.noop)
    yield root
    for name in [m for m in sys.modules if m.startswith("msv_pkg")]:
        del sys.modules[name]


def _edit(path, text):
    import os

    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a new mtime even on a coarse clock


def test_a_changed_method_source_is_a_miss_and_an_unrelated_change_is_not(method_package, tmp_path, tiny_state):
    from core.engine.cache import rng_snapshot

    cache = StepCache(tmp_path / "cache")
    recipe = tiny_recipe(Step("finetune", {"max_steps": 1}), Step("test.noop"))
    keys = cache.prefix_keys(recipe, "cpu")
    meta = {"steps": 2, "methods": ["finetune", "test.noop"], "origins": ["a" * 32] * 2, "baseline_steps": None,
            "baseline_key": None, "global_step": 1, "summaries": [{}, {}]}
    cache.store(keys[2], tiny_state, meta, rng_snapshot("cpu"))
    assert cache.lookup(recipe, "cpu")[0] == 2

    _edit(method_package / "unrelated.py", "X = 2\n")  # not imported by the handler
    assert cache.prefix_keys(recipe, "cpu") == keys
    _edit(method_package / "helper.py", "def same(state):\n    return state  # fixed\n")  # imported by the handler
    changed = cache.prefix_keys(recipe, "cpu")
    assert changed[:2] == keys[:2] and changed[2] != keys[2]  # the fine-tune before it still serves
    assert cache.lookup(recipe, "cpu") is None
    _edit(method_package / "handler.py", HANDLER + "\n# a comment is code too\n")
    assert cache.prefix_keys(recipe, "cpu")[2] not in (keys[2], changed[2])


def test_a_run_keeps_the_teacher_and_shared_prefixes_and_never_one_after_a_non_cacheable_step(tmp_path, tiny_task,
                                                                                             monkeypatch):
    from dataclasses import replace

    from core import registry

    registry.all_methods()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry._REGISTRY["test.opaque"] = replace(registry.get_method("evaluate"), name="test.opaque", cacheable=False)
    cache = StepCache(tmp_path / "cache")
    engine = Engine(workdir_root=tmp_path / "runs", cache=cache)
    opaque = teacher_then_heads()
    opaque.steps[1:1] = [Step("test.opaque", {"max_samples": 8})]  # finetune, opaque, heads
    cache.expect([opaque, opaque])  # every prefix expected twice: only the step's spec keeps them out
    logs = []
    engine.bus.subscribe(ev.LogMessage, logs.append)
    assert engine.run(opaque, task=tiny_task).status == "finished"
    assert [e.steps for e in cache.entries()] == [1]  # the teacher
    assert any("steps 2-3 are not kept in the step cache: test.opaque" in e.message for e in logs)
