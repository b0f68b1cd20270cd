"""Issue 23, item 1.8: a finished run's folder keeps only what its record names (the final model and the artifacts
it recorded); what the step cache keeps lives beside the database, and its reuse is untouched.

Measured on the tiny random BERT (what these tests run): the run folder of fine-tune -> magnitude pruning ->
fine-tune -> int8 holds ``final/`` alone, 4.7 MB (model.safetensors 3.96 MB, tokenizer.json 0.71 MB, three small
JSON files); the engine writes no model checkpoint between steps. The step cache holds the fine-tuned teacher
(model.safetensors 4.0 MB). What was left before: vocabulary pruning's working copy of the pruned tokenizer under
``step-NN/tokenizer`` (the final checkpoint carries its own copy).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core import events as ev
from core.engine.control import RunControl
from core.recipe import Step
from tests.conftest import tiny_recipe

FINETUNE = Step("finetune", {"max_steps": 2, "batch_size": 16, "eval_samples": 8})
VOCABULARY = Step("prune.vocabulary", {"measure_accuracy": False})
SENSITIVITY = Step("analyze.sensitivity", {"batches": 1, "batch_size": 8, "layers": False})


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _recorded(engine) -> list[ev.Checkpoint]:
    """The artifacts a run records (what the database, the studio, export and the prediction preview read)."""
    seen: list[ev.Checkpoint] = []
    engine.bus.subscribe(ev.Checkpoint, seen.append)
    return seen


def _named(path: Path, artifacts) -> bool:
    return any(path == Path(a.path) or Path(a.path) in path.parents for a in artifacts)


@pytest.fixture
def cached_engine(tmp_path):
    from core.engine import Engine
    from core.engine.cache import StepCache

    return Engine(workdir_root=tmp_path / "runs", cache=StepCache(tmp_path / "cache"))


def test_a_finished_run_keeps_the_final_model_alone_and_the_cache_still_resumes(cached_engine, tiny_task):
    recipe = tiny_recipe(FINETUNE, Step("prune.magnitude", {"sparsity": 0.5}), FINETUNE, Step("quant.dynamic_int8"))
    artifacts = _recorded(cached_engine)
    first = cached_engine.run(recipe, task=tiny_task)
    assert first.status == "finished", first.error
    assert [a.kind for a in artifacts] == ["final"]
    files = _files(first.workdir)
    assert files and all(_named(p, artifacts) for p in files), [str(p.relative_to(first.workdir)) for p in files]
    assert {p.name for p in files} >= {"model.safetensors", "config.json", "tokenizer.json"}
    assert [p.name for p in first.workdir.iterdir()] == ["final"]
    # The teacher (fine-tuned prefix) is in the cache, outside the run folder; the next run resumes from it.
    (entry,) = cached_engine.cache.entries()
    assert first.workdir not in Path(entry.path).parents
    reused = []
    cached_engine.bus.subscribe(ev.StepFinished, lambda e: reused.append(e.summary.get("reused_from")))
    second = cached_engine.run(recipe, task=tiny_task)
    assert second.status == "finished", second.error
    assert reused[0] == first.run_id  # the fine-tuning came from the cache
    assert [p.name for p in second.workdir.iterdir()] == ["final"]


def test_a_finished_run_drops_the_step_folders_no_record_names_and_keeps_recorded_artifacts(tmp_path, tiny_task):
    from core.engine import Engine
    from core.models.reload import load_model_folder

    engine = Engine(workdir_root=tmp_path / "runs")
    artifacts = _recorded(engine)
    result = engine.run(tiny_recipe(SENSITIVITY, VOCABULARY, Step("quant.dynamic_int8")), task=tiny_task)
    assert result.status == "finished", result.error
    assert sorted(a.kind for a in artifacts) == ["final", "sensitivity"]
    files = _files(result.workdir)
    # before: step-02/tokenizer/{tokenizer.json, tokenizer_config.json}, the vocabulary step's working copy
    assert all(_named(p, artifacts) for p in files), [str(p.relative_to(result.workdir)) for p in files]
    sensitivity = next(Path(a.path) for a in artifacts if a.kind == "sensitivity")
    assert sensitivity.is_file() and sensitivity.parent.name == "step-01"  # recorded: the inspector reads it
    assert not (result.workdir / "step-02").exists()
    # The final checkpoint carries the pruned tokenizer itself: it loads with the pruned vocabulary.
    final = next(Path(a.path) for a in artifacts if a.kind == "final")
    state = load_model_folder(final)
    assert len(state.tokenizer) == state.model.config.vocab_size == result.state.model.config.vocab_size < 30522


def test_a_cancelled_run_keeps_its_step_folders_to_look_at(tmp_path, tiny_task):
    from core.engine import Engine

    engine = Engine(workdir_root=tmp_path / "runs")
    control = RunControl()
    engine.bus.subscribe(ev.StepFinished, lambda e: control.cancel())
    result = engine.run(tiny_recipe(VOCABULARY, FINETUNE), task=tiny_task, control=control)
    assert result.status == "cancelled"
    assert (result.workdir / "step-01" / "tokenizer" / "tokenizer.json").is_file()


def test_tidy_keeps_named_artifacts_at_any_depth_and_leaves_other_folders_alone(tmp_path):
    from core.engine.housekeeping import tidy_run_folder

    run = tmp_path / "run"
    for name, size in {"final/model.safetensors": 10, "launch/output.log": 3, "step-01/a/keep.json": 4,
                       "step-01/a/drop.bin": 100, "step-01/other/x": 20, "step-02/tokenizer/tokenizer.json": 50}.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(b"x" * size)
    freed = tidy_run_folder(run, [run / "final", run / "step-01" / "a" / "keep.json"])
    assert freed == 170
    left = sorted(str(p.relative_to(run)) for p in _files(run))
    assert left == ["final/model.safetensors", "launch/output.log", "step-01/a/keep.json"]
    assert not (run / "step-02").exists() and not (run / "step-01" / "other").exists()
