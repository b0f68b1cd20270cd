"""A PostgreSQL server that goes away during a study or a run: one message, reconnection, nothing lost.

Each test has a server of its own (``tests.core.test_cli_dataloss.PrivateServer``), stopped and started
again mid-test; the other tests' session server is never touched.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from core import events as ev
from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step
from tests.core.test_cli import ROOT
from tests.core.test_cli_dataloss import server  # noqa: F401 (a fixture: a private PostgreSQL server)
from tests.core.test_cli_faults import small_csv
from tests.pg import rows


@pytest.fixture(autouse=True)
def _outage_log_reaches_caplog(monkeypatch):
    """The CLI prints core.db.outage itself (and stops its propagation); here caplog must see it."""
    monkeypatch.setattr(logging.getLogger("core.db.outage"), "propagate", True)


# -- the pieces -------------------------------------------------------------------------------------------------
def test_retrying_waits_with_growing_pauses_says_it_once_and_gives_up_with_a_sentence(caplog):
    from core.db.outage import DatabaseUnreachable, retrying

    def refused():
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    pauses: list[float] = []
    with caplog.at_level(logging.WARNING, logger="core.db.outage"), pytest.raises(DatabaseUnreachable) as err:
        retrying(refused, "postgresql://h/db-a", what="testing", patience_s=0.2,
                 sleep=lambda s: (pauses.append(s), time.sleep(s)))
    assert len(caplog.records) == 1 and not caplog.records[0].exc_info
    assert "unreachable" in caplog.records[0].getMessage()
    assert str(err.value).startswith("the database postgresql://h/db-a is unreachable (OperationalError: ")
    assert "while testing" in str(err.value) and pauses and pauses[0] <= 0.5

    calls = []

    def twice_then_fine():
        calls.append(1)
        if len(calls) < 3:
            refused()
        return "ok"

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="core.db.outage"):
        assert retrying(twice_then_fine, "postgresql://h/db-b", patience_s=10, sleep=lambda s: None) == "ok"
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and "unreachable" in said[0] and "is back" in said[1]

    with pytest.raises(sa.exc.IntegrityError):  # anything but a lost server is not retried
        retrying(lambda: (_ for _ in ()).throw(sa.exc.IntegrityError("x", {}, Exception("dup"))), "u",
                 patience_s=10)


def test_the_recorder_says_an_outage_once_keeps_the_metrics_and_writes_them_when_the_server_is_back(server,
                                                                                                     caplog):
    from core.db import Recorder, open_database

    bus = ev.EventBus()
    db = open_database(server.url)
    run_id = "outage-run"
    recipe = {"name": "r", "model": {"source": "tiny"}, "data": {"source": "default"},
              "steps": [{"method": "finetune", "settings": {}}]}
    with caplog.at_level(logging.WARNING):
        recorder = Recorder(db, bus, flush_interval=0.05)
        bus.publish(ev.RunStarted(run_id=run_id, recipe=recipe, device="cpu", step_titles=("Fine-tune",)))
        bus.publish(ev.StepStarted(run_id=run_id, index=0, method="finetune", title="Fine-tune"))
        server.stop()
        for i in range(200):  # a run's batches while the server is away
            bus.publish(ev.Metric(run_id=run_id, key="train/loss", value=1.0 / (i + 1), step=i, index=0))
            if i % 50 == 0:
                bus.publish(ev.Checkpoint(run_id=run_id, index=0, path=f"/x/{i}"))
        time.sleep(1.0)
        server.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not rows(server.url, "SELECT 1 FROM metrics LIMIT 1"):
            time.sleep(0.2)
        bus.publish(ev.RunFinished(run_id=run_id, results={"accuracy": 0.5}))
        recorder.close()
    db.close()
    records = [r for r in caplog.records if r.name.startswith("core.db")]
    assert [r.name for r in records] == ["core.db.outage", "core.db.outage"], [r.getMessage() for r in records]
    assert "unreachable" in records[0].getMessage() and "is back" in records[1].getMessage()
    assert not any(r.exc_info for r in records)
    assert rows(server.url, "SELECT COUNT(*) FROM metrics") == [(200,)]  # none lost
    assert rows(server.url, "SELECT status FROM runs") == [("finished",)]


# -- a study through the command line -------------------------------------------------------------------------
def _study_file(tmp_path: Path, variants: int, steps: int) -> Path:
    recipe = Recipe(name="outage", model=ModelRef("tiny"),
                    data=DataRef(source=str(small_csv(tmp_path / "d.csv")), max_length=16),
                    steps=[Step("finetune", {"max_steps": steps, "batch_size": 2, "epochs": 100})],
                    evaluation=EvaluationSettings(latency_repeats=1, latency_batch_size=4))
    spec = {"format": "bert-studio-study", "version": 1, "name": "outage", "kind": "grid",
            "recipe": recipe.to_dict(),
            "grid": {"variants": [{"name": f"lr {lr}", "settings": {1: {"learning_rate": lr}}}
                                  for lr in (1e-4, 2e-4, 3e-4)[:variants]]}}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


# Each batch of the study's runs takes at least 50 ms, however fast the machine: a trial then lasts long enough
# for the server to be stopped while it trains (the batch check is where a run looks for pause and cancel).
SLOW_BATCHES = ("import time\nimport core.engine.control as control\n_check = control.RunControl.check\n"
                "def check(self, *args, **kwargs):\n    time.sleep(0.05)\n    _check(self, *args, **kwargs)\n"
                "control.RunControl.check = check\n")


def _study_run(tmp_path: Path, url: str, study: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "BERT_STUDIO_HOME": str(tmp_path / "home"), "BERT_STUDIO_DB": url}
    args = ["study", "run", str(study), "--quiet", *extra]
    code = f"{SLOW_BATCHES}from core.cli import main\nraise SystemExit(main({args!r}))"
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_training(url: str, proc: subprocess.Popen, timeout: float = 300) -> str:
    """The run id of the first trial, once its step is training."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            found = rows(url, "SELECT t.run_id FROM study_trials t JOIN steps s ON s.run_id = t.run_id "
                              "WHERE s.status = 'running'")
        except sa.exc.SQLAlchemyError:  # not created yet
            found = []
        if found:
            return found[0][0]
        time.sleep(0.2)
    raise AssertionError("the first trial never started training")


def clean(err: str) -> None:
    assert "Traceback" not in err and "terminate called" not in err, err


def test_a_study_whose_server_goes_away_and_stays_away_keeps_the_trial_and_says_where(tmp_path, server):
    study = _study_file(tmp_path, variants=1, steps=100)
    proc = _study_run(tmp_path, server.url, study, "--db-patience", "4")
    try:
        run_id = _wait_for_training(server.url, proc)
        server.stop()
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 1, out + err
    clean(err)
    kept = tmp_path / "home" / "unrecorded" / f"{run_id}.json"
    [warning] = [line for line in err.splitlines() if line.startswith("warning:")]  # one line, not a flood
    assert "is unreachable" in warning
    [error] = [line for line in err.splitlines() if line.startswith("error:")]
    assert f"its results are kept in {kept}" in error and "next bert-studio command" in error
    saved = json.loads(kept.read_text())
    assert saved["status"] == "finished" and saved["study"]["number"] == 0 and saved["results"]["accuracy"] >= 0

    server.start()  # the next command that opens the database records the run and ends its trial
    env = {**os.environ, "BERT_STUDIO_HOME": str(tmp_path / "home"), "BERT_STUDIO_DB": server.url}
    [(study_id,)] = rows(server.url, "SELECT id FROM studies")
    shown = subprocess.run([sys.executable, "-m", "core.cli", "study", "show", study_id], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr
    clean(shown.stderr)
    assert f"run {run_id[:8]} (finished) was recorded afterwards" in shown.stderr
    assert rows(server.url, "SELECT status, run_id FROM study_trials") == [("finished", run_id)]
    assert rows(server.url, "SELECT status FROM runs") == [("finished",)]
    assert rows(server.url, f"SELECT COUNT(*) FROM results WHERE run_id = '{run_id}'")[0][0] > 0
    assert not kept.exists()


def test_a_study_whose_server_restarts_mid_trial_goes_on_and_loses_nothing(tmp_path, server):
    study = _study_file(tmp_path, variants=2, steps=60)
    proc = _study_run(tmp_path, server.url, study, "--db-patience", "120")
    try:
        _wait_for_training(server.url, proc)
        server.stop()
        time.sleep(3)
        server.start()
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 0, out + err
    clean(err)
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) <= 2 and all("unreachable" in w or "is back" in w for w in warnings), warnings
    assert sorted(rows(server.url, "SELECT number, status FROM study_trials")) == [(0, "finished"), (1, "finished")]
    assert rows(server.url, "SELECT DISTINCT status FROM runs") == [("finished",)]
    assert rows(server.url, "SELECT status FROM studies") == [("finished",)]
    assert not list((tmp_path / "home" / "unrecorded").glob("*.json"))
