"""Runs in a worker process: events reach this process's bus, pause/cancel cross over, a dead worker fails its run.

One worker serves the whole module (spawning one imports torch and transformers: seconds).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from core import events as ev
from core.db import Recorder, Repository, open_database
from core.engine.process import describe_exit
from core.recipe import Step
from tests.conftest import tiny_recipe


def small_recipe(max_steps: int):
    recipe = tiny_recipe(Step("finetune", {"max_steps": max_steps, "batch_size": 16}), train=64)
    recipe.data.validation_samples = recipe.data.test_samples = recipe.evaluation.max_samples = 32
    return recipe


@pytest.fixture
def events(worker_engine):
    seen: list[ev.Event] = []
    unsubscribe = worker_engine.bus.subscribe(ev.Event, seen.append)
    yield seen
    unsubscribe()


def test_a_run_in_the_worker_is_published_and_recorded_here(worker_engine, events, tmp_path):
    with open_database(f"sqlite:///{tmp_path / 'runs.db'}") as db, Recorder(db, worker_engine.bus):
        handle = worker_engine.start(small_recipe(max_steps=2))
        result = handle.join(180)
        assert handle.done and result is not None
        assert result.status == "finished", result.error
        run = Repository(db).get_run(handle.run_id)
    assert result.state is None and result.workdir == worker_engine.workdir_root / handle.run_id
    assert worker_engine.worker_pid not in (None, os.getpid())
    assert [type(e) for e in (events[0], events[-1])] == [ev.RunStarted, ev.RunFinished]
    assert {e.run_id for e in events} == {handle.run_id}
    assert events[-1].results == result.results
    # The starting size comes before the first step, at index -1, and the fine-tuning step does not change it.
    first_step = next(i for i, e in enumerate(events) if isinstance(e, ev.StepStarted))
    start = {e.key: e for e in events[:first_step] if isinstance(e, ev.Metric)}
    assert (start["model/parameters"].index, start["model/parameters"].step) == (-1, 0)
    assert start["model/parameters"].value == result.results["parameters"] > 0
    assert start["model/size_bytes"].value > 4 * start["model/parameters"].value * 0.9  # fp32 weights
    losses = [e.value for e in events if isinstance(e, ev.Metric) and e.key == "train/loss"]
    assert len(losses) == 2
    # Written by this process's recorder from the forwarded events; the checkpoint is on the shared disk.
    assert run.status == "finished" and run.figures == result.results
    assert [p.value for p in Repository(db).metric_series(run.id, "train/loss")] == pytest.approx(losses)
    [final] = [e for e in events if isinstance(e, ev.Checkpoint) and e.kind == "final"]
    assert os.path.isdir(final.path) and final.path.startswith(str(result.workdir))


def test_pause_holds_the_worker_and_cancel_ends_the_run(worker_engine, events):
    losses = threading.Event()
    unsubscribe = worker_engine.bus.subscribe(ev.Metric, lambda e: losses.set(), filter=lambda e: e.key == "train/loss")
    handle = worker_engine.start(small_recipe(max_steps=40))
    assert losses.wait(180), "no training step arrived"
    held = threading.Event()
    unsubscribe_held = worker_engine.bus.subscribe(ev.RunPaused, lambda e: held.set())
    handle.pause()
    assert held.wait(180), "the worker never acknowledged the pause"  # it holds between two batches
    is_loss = lambda e: isinstance(e, ev.Metric) and e.key == "train/loss"  # noqa: E731
    count = sum(is_loss(e) for e in events)
    with pytest.raises(RuntimeError, match="busy"):
        worker_engine.start(small_recipe(max_steps=1))
    handle.resume()
    deadline = time.monotonic() + 60
    while sum(isinstance(e, ev.Metric) and e.key == "train/loss" for e in events) <= count + 1:
        assert time.monotonic() < deadline, "the run did not resume"
        time.sleep(0.05)
    handle.cancel()
    result = handle.join(60)
    assert result.status == "cancelled"
    assert isinstance(events[-1], ev.RunCancelled)
    assert count < sum(isinstance(e, ev.Metric) and e.key == "train/loss" for e in events) < 40
    # What the acknowledgement promises: no training step between RunPaused and RunResumed.
    paused = next(i for i, e in enumerate(events) if isinstance(e, ev.RunPaused))
    resumed = next(i for i, e in enumerate(events) if isinstance(e, ev.RunResumed))
    assert paused < resumed and not any(is_loss(e) for e in events[paused:resumed])
    assert events[paused].step == events[resumed].step
    unsubscribe_held()
    unsubscribe()
    handle.cancel()  # too late: must not leak into the worker's next run
    following = worker_engine.start(small_recipe(max_steps=1))
    assert not following.control.cancelled
    following.cancel()
    assert following.join(120).status == "cancelled"


def test_a_killed_worker_fails_its_run_and_the_next_run_gets_a_fresh_one(worker_engine, events, tmp_path):
    worker_engine.wait_ready(120)
    pid = worker_engine.worker_pid
    started = worker_engine.workers_started
    killed = []

    def kill(event) -> None:  # as the kernel's out-of-memory killer would
        if not killed:
            killed.append(event.step)
            os.kill(pid, signal.SIGKILL)

    with open_database(f"sqlite:///{tmp_path / 'runs.db'}") as db, Recorder(db, worker_engine.bus):
        unsubscribe = worker_engine.bus.subscribe(ev.Metric, kill, filter=lambda e: e.key == "train/loss")
        handle = worker_engine.start(small_recipe(max_steps=40))
        result = handle.join(180)
        unsubscribe()
        assert result is not None and result.status == "failed"
        run = Repository(db).get_run(handle.run_id)
        kept = Repository(db).metric_series(run.id, "train/loss")
    assert "worker process ended unexpectedly" in result.error and "SIGKILL" in result.error
    failed = [e for e in events if isinstance(e, ev.RunFailed)]
    assert [e.run_id for e in failed] == [handle.run_id] and failed[0].error == result.error
    assert run.status == "failed" and run.error == result.error
    assert len(kept) >= 1  # the figures recorded until the crash stay
    assert worker_engine.worker_pid is None
    # The engine carries on: the next run starts a new worker, which runs it.
    cancel_at_start = worker_engine.bus.subscribe(ev.RunStarted, lambda e: next_handle.cancel())
    next_handle = worker_engine.start(small_recipe(max_steps=40))
    assert next_handle.join(180).status == "cancelled"
    cancel_at_start()
    assert worker_engine.workers_started == started + 1 and worker_engine.worker_pid not in (None, pid)


def test_exit_descriptions():
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-signal.SIGSEGV) == "killed by signal SIGSEGV"
    assert "out of memory" in describe_exit(-signal.SIGKILL)


def test_in_thread_engine_publishes_the_starting_size_too(engine, tiny_task):
    seen = []
    engine.bus.subscribe(ev.Metric, seen.append, filter=lambda e: e.key.startswith("model/"))
    result = engine.run(tiny_recipe(Step("evaluate", {"max_samples": 16})), task=tiny_task)
    assert result.status == "finished", result.error
    [start_params] = [e for e in seen if e.key == "model/parameters" and e.index == -1]
    [start_size] = [e for e in seen if e.key == "model/size_bytes" and e.index == -1]
    assert start_params.value == result.results["parameters"] and start_params.step == 0
    assert start_size.value == result.results["size_bytes"]  # evaluating changes nothing
