"""The recorder writes engine runs as they go, survives a killed process and never stalls the engine."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import events as ev
from core.db import DatabaseError, Recorder, Repository, open_database
from core.engine.control import RunControl
from core.recipe import Step
from tests.conftest import tiny_recipe

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_full_engine_run_is_recorded(engine, db, repo, tiny_task):
    with Recorder(db, engine.bus):
        result = engine.run(tiny_recipe(Step("finetune", {"max_steps": 3}), name="tiny finetune"), task=tiny_task)
    assert result.status == "finished", result.error
    run = repo.get_run(result.run_id[:8])
    assert (run.id, run.name, run.status, run.error) == (result.run_id, "tiny finetune", "finished", None)
    assert run.ended_at >= run.started_at
    assert run.recipe["steps"][0] == {"method": "finetune", "settings": {"max_steps": 3}, "label": None}
    losses = repo.metric_series(run.id, "train/loss")
    steps = [p.step for p in losses]
    assert len(steps) == 3 and steps == sorted(set(steps))
    assert all(p.step_index == 0 for p in losses)
    assert {"train/loss", "val/accuracy", "final/accuracy"} <= set(repo.metric_keys(run.id))
    # the results table holds the numbers; the run's figures also keep the raw timing rounds and protocol
    numbers = {k: v for k, v in result.results.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    assert repo.results(run.id) == numbers and run.figures == result.results
    assert set(result.results) - set(numbers) == {"timing"}
    assert {"accuracy", "parameters", "latency_ms"} <= set(run.results)
    [step] = run.steps
    assert (step.method, step.status) == ("finetune", "finished")
    assert step.summary["parameters"] == result.results["parameters"]
    assert step.started_at <= step.ended_at


def test_failing_run_is_marked_failed_with_the_error(engine, db, repo, tmp_path):
    recipe = tiny_recipe(Step("finetune", {"max_steps": 3}))
    recipe.data.source = str(tmp_path / "missing.csv")
    with Recorder(db, engine.bus):
        result = engine.run(recipe)
    assert result.status == "failed"
    run = repo.get_run(result.run_id)
    assert run.status == "failed" and run.ended_at is not None
    assert "missing.csv" in run.error and run.error == result.error
    assert "Traceback" in run.error_details
    assert run.data_source.endswith("missing.csv")
    assert [s.status for s in run.steps] == ["pending"]  # it never got that far
    assert run.results == {}


def test_cancelled_run_is_marked_cancelled(engine, db, repo, tiny_task):
    control = RunControl()
    engine.bus.subscribe(ev.Metric, lambda e: control.cancel(), filter=lambda e: e.key == "train/loss")
    with Recorder(db, engine.bus):
        result = engine.run(tiny_recipe(Step("finetune", {"max_steps": 50})), control=control, task=tiny_task)
    assert result.status == "cancelled"
    run = repo.get_run(result.run_id)
    assert run.status == "cancelled" and run.ended_at is not None
    assert [s.status for s in run.steps] == ["cancelled"]
    assert len(repo.metric_series(run.id, "train/loss")) == 1  # recorded up to the cancel


KILLED_RUN = textwrap.dedent("""
    import os, sys, time
    from core import events as ev
    from core.db import Recorder, open_database
    db = open_database(sys.argv[1])
    bus = ev.EventBus()
    Recorder(db, bus)
    recipe = {"name": "doomed", "model": {"source": "tiny"}, "data": {"source": "default"},
              "steps": [{"method": "finetune"}]}
    bus.publish(ev.RunStarted(run_id="killed-run", recipe=recipe, device="cpu", step_titles=("Fine-tune",)))
    bus.publish(ev.StepStarted(run_id="killed-run", index=0, method="finetune", title="Fine-tune"))
    for step in range(1, 6):
        bus.publish(ev.Metric(run_id="killed-run", key="train/loss", value=1.0 / step, step=step, index=0))
    time.sleep(1.5)  # no step boundary: only the periodic flush can have written these
    os._exit(1)  # killed: no close(), no terminal event, no interpreter cleanup
""")


def test_killed_process_keeps_its_metrics_and_is_marked_interrupted(db_url):
    proc = subprocess.run([sys.executable, "-c", KILLED_RUN, db_url], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    with open_database(db_url) as db:
        repo = Repository(db)
        assert repo.get_run("killed").status == "running"
        assert [p.step for p in repo.metric_series("killed", "train/loss")] == [1, 2, 3, 4, 5]
        assert repo.mark_interrupted_runs() == 1
        run = repo.get_run("killed")
        assert run.status == "interrupted" and "stopped" in run.error
        assert [s.status for s in run.steps] == ["interrupted"]
        assert run.ended_at >= run.started_at
        assert repo.mark_interrupted_runs() == 0


LIVE_RUN = textwrap.dedent("""
    import sys
    from core import events as ev
    from core.db import Recorder, open_database
    db = open_database(sys.argv[1])
    bus = ev.EventBus()
    Recorder(db, bus)
    bus.publish(ev.RunStarted(run_id="other-process", recipe={"name": "busy"}, device="cpu", step_titles=()))
    print("recording", flush=True)
    sys.stdin.readline()  # keeps running until the test kills it
""")


def test_runs_of_another_live_process_are_left_alone(db_url):
    child = subprocess.Popen([sys.executable, "-c", LIVE_RUN, db_url], cwd=REPO_ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "recording", child.stderr.read()
        with open_database(db_url) as db:
            repo = Repository(db)
            assert repo.mark_interrupted_runs() == 0
            child.kill()
            child.wait(timeout=30)
            assert repo.mark_interrupted_runs() == 1
            assert repo.get_run("other").status == "interrupted"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            stream.close()


def test_live_runs_in_this_process_are_not_marked_interrupted(db, repo):
    bus = ev.EventBus()
    recorder = Recorder(db, bus)
    bus.publish(ev.RunStarted(run_id="live", recipe={"name": "x"}, device="cpu", step_titles=()))
    assert repo.mark_interrupted_runs() == 0
    assert repo.get_run("live").status == "running"
    with pytest.raises(DatabaseError, match="still being recorded"):
        repo.delete_run("live")
    recorder.close()  # the recorder went away without a terminal event: now it is orphaned
    assert repo.mark_interrupted_runs() == 1
    assert repo.get_run("live").status == "interrupted"


def test_metrics_cost_no_commit_on_the_engine_thread_and_are_flushed_periodically(db, repo):
    commits: list[int] = []
    sa.event.listen(db.engine, "commit", lambda conn: commits.append(threading.get_ident()))
    bus = ev.EventBus()
    with Recorder(db, bus, flush_interval=0.2):
        bus.publish(ev.RunStarted(run_id="hot", recipe={"name": "x"}, device="cpu", step_titles=()))
        me = threading.get_ident()
        before = commits.count(me)
        for step in range(2000):
            bus.publish(ev.Metric(run_id="hot", key="train/loss", value=float(step), step=step))
        assert commits.count(me) == before  # the hot loop never committed
        deadline = time.monotonic() + 10
        while len(repo.metric_series("hot", "train/loss")) < 2000 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Written by the background flush alone: no step boundary or terminal event happened.
        assert [p.step for p in repo.metric_series("hot", "train/loss")] == list(range(2000))
        assert any(ident != me for ident in commits)


def test_concurrent_runs_on_one_bus_are_all_recorded(db, repo):
    bus = ev.EventBus()

    def run(run_id: str) -> None:
        bus.publish(ev.RunStarted(run_id=run_id, recipe={"name": run_id}, device="cpu", step_titles=()))
        for step in range(300):
            bus.publish(ev.Metric(run_id=run_id, key="loss", value=step / 10, step=step))
        bus.publish(ev.RunFinished(run_id=run_id, results={"accuracy": 0.5}))

    with Recorder(db, bus):
        threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i in range(3):
        assert repo.get_run(f"run-{i}").status == "finished"
        assert [p.step for p in repo.metric_series(f"run-{i}", "loss")] == list(range(300))


def test_database_failures_are_logged_never_raised_into_the_engine(db, repo, caplog):
    bus = ev.EventBus()
    # Events for a run the recorder never saw start are ignored (no row to attach them to).
    with Recorder(db, bus):
        bus.publish(ev.Metric(run_id="unknown", key="loss", value=1.0, step=1))
        bus.publish(ev.RunFinished(run_id="unknown", results={}))
    assert repo.list_runs() == []

    recorder = Recorder(db, bus)
    bus.publish(ev.RunStarted(run_id="r", recipe={"name": "x"}, device="cpu", step_titles=("A",)))
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE metrics")
    with caplog.at_level(logging.ERROR, logger="core.db.recorder"):
        # Published straight to the recorder, bypassing the bus's own safety net.
        recorder._on_event(ev.Metric(run_id="r", key="loss", value=1.0, step=1))
        recorder._on_event(ev.StepStarted(run_id="r", index=0, method="finetune", title="A"))
        recorder._on_event(ev.RunFinished(run_id="r", results={"accuracy": 0.5}))
        recorder.close()
    assert "could not record" in caplog.text
    assert repo.get_run("r").status == "finished"  # what could be written, was


def test_another_machines_live_run_is_not_marked_interrupted_until_it_falls_silent(db, repo):
    from core.db.repository import OTHER_HOST_SILENCE_S
    from core.db.schema import RunRow
    from tests.core.db.conftest import record_run

    record_run(db, "elsewhere", end="running")
    record_run(db, "gone", end="running", started=time.time() - 2 * OTHER_HOST_SILENCE_S)
    with db.session() as s:  # both recorded from another machine, whose processes cannot be checked from here
        for row in s.scalars(sa.select(RunRow)):
            row.host = "another-machine"
    assert repo.mark_interrupted_runs() == 1
    assert repo.get_run("elsewhere").status == "running"  # metrics a moment ago
    assert repo.get_run("gone").status == "interrupted"  # silent for two hours
