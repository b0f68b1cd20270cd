"""The studio's multi-process run: two local gloo processes under torchrun, followed through rank 0's events."""

from __future__ import annotations

import threading

from core import events as ev
from core.engine.local_launch import LocalLaunchEngine
from core.recipe import Step
from tests.conftest import tiny_recipe

LAUNCH_TIMEOUT = 120.0  # seconds; two processes importing torch on a busy 2-core machine


def _two_process_launch(tmp_path, monkeypatch, settings: dict):
    """A tiny fine-tune recipe (no cache) and a 2-process launch engine over a fresh SQLite database."""
    monkeypatch.setenv("BERT_STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    recipe = tiny_recipe(Step("finetune", {**settings, "batch_size": 16}), train=32)
    recipe.cache = False
    return db, recipe, LocalLaunchEngine(db, processes=2, workdir_root=tmp_path / "home" / "runs")


def test_two_processes_report_one_run_through_the_event_file(tmp_path, monkeypatch):
    db, recipe, engine = _two_process_launch(tmp_path, monkeypatch, {"max_steps": 2})
    recipe.data.validation_samples = recipe.data.test_samples = recipe.evaluation.max_samples = 16
    recipe.evaluation.latency_repeats = 1
    seen = []
    engine.bus.subscribe(ev.Event, seen.append)
    handle = engine.start(recipe)
    result = handle.join(LAUNCH_TIMEOUT)
    log = (handle.folder / "output.log").read_text()
    assert result is not None, log[-3000:]
    assert result.status == "finished", (result.error, log[-3000:])
    kinds = [type(e).__name__ for e in seen]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished", kinds
    assert "Progress" in kinds and "StepFinished" in kinds
    assert {e.run_id for e in seen} == {handle.run_id}
    assert sum(isinstance(e, ev.Metric) and e.key == "train/loss" for e in seen) == 2  # rank 0's, once

    from core.db import Repository, open_database

    database = open_database(db)
    try:
        runs = Repository(database).list_runs()
        assert [(r.id, r.status) for r in runs] == [(handle.run_id, "finished")]  # one row, the id the studio holds
    finally:
        database.close()


def test_pause_and_cancel_reach_both_processes(tmp_path, monkeypatch):
    import time

    db, recipe, engine = _two_process_launch(tmp_path, monkeypatch, {"epochs": 100})
    losses, training, acknowledged = [], threading.Event(), threading.Event()
    engine.bus.subscribe(ev.Metric, lambda e: (losses.append(e.step), training.set()) if e.key == "train/loss" else None)
    engine.bus.subscribe(ev.RunPaused, lambda e: acknowledged.set())
    seen = []
    engine.bus.subscribe(ev.Event, seen.append)
    handle = engine.start(recipe)
    try:
        assert training.wait(LAUNCH_TIMEOUT), (handle.folder / "output.log").read_text()[-3000:]
        handle.pause()
        assert acknowledged.wait(LAUNCH_TIMEOUT), "the ranks never acknowledged the pause"  # every rank holds
        held = len(losses)
        handle.resume()
        deadline = time.monotonic() + 30
        while len(losses) == held and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(losses) > held, "the run did not resume"
        paused = next(i for i, e in enumerate(seen) if isinstance(e, ev.RunPaused))
        resumed = next(i for i, e in enumerate(seen) if isinstance(e, ev.RunResumed))
        assert paused < resumed and not any(isinstance(e, ev.Metric) and e.key == "train/loss"
                                            for e in seen[paused:resumed]), "it trained while paused"
        handle.cancel()
        result = handle.join(30)
    finally:
        if not handle.done:
            import os
            import signal

            os.killpg(handle.process.pid, signal.SIGKILL)
    assert result is not None and result.status == "cancelled", result
    assert handle.process.wait(30) != 0


def test_a_launch_that_dies_fails_the_run_with_its_output(tmp_path):
    import subprocess
    import sys

    def launcher(command, **kwargs):  # a launch that dies at once, as a crashed torchrun would
        return subprocess.Popen([sys.executable, "-c", "import sys; print('rank 0: boom'); sys.exit(3)"], **kwargs)

    engine = LocalLaunchEngine("sqlite://", processes=2, workdir_root=tmp_path, popen=launcher)
    failed = []
    engine.bus.subscribe(ev.RunFailed, failed.append)
    result = engine.start(tiny_recipe(Step("finetune", {"max_steps": 1}))).join(30)
    assert result.status == "failed" and "exit code 3" in result.error
    assert len(failed) == 1 and "rank 0: boom" in failed[0].details
