"""The run controller on the studio's default engine: runs go to a worker process, the studio only hears events.

One worker serves the module (a new one costs seconds of imports), as one does the studio's session.
"""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtWidgets import QWidget

from core import events as ev
from core.db import Repository, open_database
from core.engine.process import ProcessEngine
from studio.run_controller import RunController
from studio.runs_store import DatabaseRunsStore
from tests.studio.conftest import quick_recipe

RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def owner(qtbot):
    """A widget to own controllers: pytest-qt deletes it (and them) after the test, while Qt still runs."""
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def controller(owner, worker_engine, db_url):
    store = DatabaseRunsStore(db_url)
    ctl = RunController(store, worker_engine, owner)
    yield ctl
    ctl.shutdown(30)
    store.close()


def test_the_studio_runs_recipes_in_a_worker_process_by_default(owner, db_url):
    store = DatabaseRunsStore(db_url)
    ctl = RunController(store, parent=owner)
    try:
        assert isinstance(ctl.engine, ProcessEngine)
        assert ctl.engine.worker_pid is None  # nothing spawned until the studio warms up or runs
    finally:
        ctl.shutdown(5)
        store.close()


def test_a_run_reports_through_the_bridge_and_is_recorded_by_this_process(qtbot, controller, db_url):
    starts, sizes = [], []
    controller.bridge.metric.connect(lambda e: sizes.append(e) if e.key.startswith("model/") else None)
    controller.runningChanged.connect(starts.append)
    with qtbot.waitSignal(controller.bridge.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        handle = controller.start(quick_recipe(max_steps=2))
        assert controller.running
        with pytest.raises(RuntimeError, match="already in progress"):
            controller.start(quick_recipe())
    qtbot.waitUntil(lambda: not controller.running, timeout=5000)
    assert starts == [True, False]
    assert handle.result.status == "finished" and handle.result.results == finished.args[0].results
    assert [(e.key, e.index) for e in sizes[:2]] == [("model/parameters", -1), ("model/size_bytes", -1)]
    with open_database(db_url) as db:
        run = Repository(db).get_run(handle.run_id)
    assert run.status == "finished" and len(Repository(db).metric_series(run.id, "train/loss")) == 2


def test_pause_resume_and_cancel_reach_the_worker(qtbot, controller):
    bridge = controller.bridge
    losses = []
    bridge.metric.connect(lambda e: losses.append(e.step) if e.key == "train/loss" else None)
    with qtbot.waitSignal(bridge.metric, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda e: e.key == "train/loss"):
        controller.start(quick_recipe(max_steps=200, epochs=100.0))
    seen = []
    bridge.event.connect(seen.append)
    with qtbot.waitSignal(controller.pausedChanged, timeout=RUN_TIMEOUT_MS), \
            qtbot.waitSignal(bridge.event, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda e: isinstance(e, ev.RunPaused)):
        controller.pause()  # the worker acknowledges: it holds between two batches
    frozen = len(losses)  # every step before the pause arrived before its acknowledgement
    assert frozen < 200
    controller.resume()
    qtbot.waitUntil(lambda: len(losses) > frozen, timeout=RUN_TIMEOUT_MS)
    held = next(i for i, e in enumerate(seen) if isinstance(e, ev.RunPaused))
    went_on = next(i for i, e in enumerate(seen) if isinstance(e, ev.RunResumed))
    assert not any(isinstance(e, ev.Metric) and e.key == "train/loss" for e in seen[held:went_on])
    with qtbot.waitSignal(bridge.runCancelled, timeout=RUN_TIMEOUT_MS):
        controller.cancel()
    qtbot.waitUntil(lambda: not controller.running, timeout=5000)
    assert controller.handle.result.status == "cancelled" and not controller.paused


def test_a_dead_worker_fails_the_run_and_the_next_run_goes(qtbot, controller, worker_engine, db_url):
    bridge = controller.bridge
    with qtbot.waitSignal(bridge.metric, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda e: e.key == "train/loss"):
        controller.start(quick_recipe(max_steps=200, epochs=100.0))
    pid = worker_engine.worker_pid
    with qtbot.waitSignal(bridge.runFailed, timeout=RUN_TIMEOUT_MS) as failed:
        os.kill(pid, signal.SIGKILL)
    assert "worker process ended unexpectedly" in failed.args[0].error and "SIGKILL" in failed.args[0].error
    qtbot.waitUntil(lambda: not controller.running, timeout=5000)
    with open_database(db_url) as db:
        run = Repository(db).get_run(failed.args[0].run_id)
        assert run.status == "failed" and Repository(db).metric_series(run.id, "train/loss")
    # The controller already asked for a fresh worker; the next run goes there.
    assert worker_engine.worker_pid not in (None, pid)
    with qtbot.waitSignal(bridge.runFinished, timeout=RUN_TIMEOUT_MS):
        controller.start(quick_recipe(max_steps=1))


def test_shutdown_stops_the_worker_a_controller_started(owner, db_url):
    store = DatabaseRunsStore(db_url)
    ctl = RunController(store, parent=owner)
    ctl.warm_up()
    process = ctl.engine._worker.process
    assert process.is_alive()
    assert ctl.shutdown(10)
    store.close()
    assert not process.is_alive() and ctl.engine.worker_pid is None


def test_studio_runs_reuse_the_step_cache_beside_their_database(qtbot, controller, db_url):
    from core.engine.cache import cache_root_for
    from core.engine.cache import describe_reuse
    from core.recipe import Step

    assert controller.engine.cache_root == cache_root_for(db_url)
    recipe = quick_recipe(max_steps=2)
    recipe.steps.append(Step("prune.magnitude", {"sparsity": 0.3}))
    ids = []
    for _ in range(3):
        with qtbot.waitSignal(controller.bridge.runFinished, timeout=RUN_TIMEOUT_MS):
            ids.append(controller.start(recipe).run_id)
        qtbot.waitUntil(lambda: not controller.running, timeout=5000)
    with open_database(db_url) as db:
        first, second, third = (Repository(db).get_run(i) for i in ids)
    assert describe_reuse(first.steps) is None  # computed everything
    # The cache keeps the baseline's prefix after one run, and a longer prefix once a second run computed it
    # too (core/engine/prefixes.py's write policy): the second run reuses the fine-tune, the third both steps.
    assert describe_reuse(second.steps) == f"step 1 from run {first.id[:8]}"
    assert describe_reuse(third.steps) == f"step 1 from run {first.id[:8]}, step 2 from run {second.id[:8]}"
