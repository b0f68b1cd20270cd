"""Signals that reach the studio's run worker process (:class:`core.engine.process.ProcessEngine`).

A Ctrl-C in the terminal reaches the whole process group: the worker must leave the decision to its parent
(it used to die with a KeyboardInterrupt, failing the run). A SIGTERM sent to the worker (a system shutting
down) cancels the run at its next batch, so it is recorded cancelled, and the worker then exits cleanly.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from core import events as ev
from core.db import Recorder, Repository, open_database
from tests.core.test_engine_process import small_recipe


def test_sigint_is_the_parents_to_decide_and_sigterm_cancels_the_run_then_ends_the_worker(tmp_path):
    from core.engine.process import ProcessEngine

    engine = ProcessEngine(workdir_root=tmp_path / "runs")
    losses: list[ev.Metric] = []
    arrived = threading.Condition()

    def on_loss(e: ev.Metric) -> None:
        with arrived:
            losses.append(e)
            arrived.notify_all()

    def wait_for_losses(n: int) -> None:
        with arrived:
            assert arrived.wait_for(lambda: len(losses) >= n, 180), f"{len(losses)} training steps arrived"

    engine.bus.subscribe(ev.Metric, on_loss, filter=lambda e: e.key == "train/loss")
    try:
        with open_database(f"sqlite:///{tmp_path / 'runs.db'}") as db, Recorder(db, engine.bus):
            handle = engine.start(small_recipe(max_steps=400))
            wait_for_losses(1)
            worker = engine._worker.process
            os.kill(worker.pid, signal.SIGINT)  # as a Ctrl-C in the terminal, which reaches the whole group
            wait_for_losses(len(losses) + 3)  # it trains on
            os.kill(worker.pid, signal.SIGTERM)
            result = handle.join(120)
            assert result is not None and result.status == "cancelled", result and result.error
            assert Repository(db).get_run(handle.run_id).status == "cancelled"
        worker.join(180)  # the worker runs niced: on a loaded machine its exit can take a minute (CI: over 60 s)
        assert worker.exitcode == 0
        deadline = time.monotonic() + 30
        while engine.worker_pid is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert engine.worker_pid is None
    finally:
        engine.close()
