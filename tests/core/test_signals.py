"""SIGINT and SIGTERM sent to real ``bert-studio`` processes: every long command stops cleanly.

Each test starts the command as a user would (``python -m core.cli``), waits until it is at work, sends the
signal(s), and checks the exit status (130 for SIGINT, 143 for SIGTERM), that no traceback or C++ abort was
printed, and what the database holds afterwards (nothing left ``running``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step
from tests.core.test_cli import ROOT
from tests.core.test_cli_faults import cli, recipe_file, small_csv
from tests.pg import rows

CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Command:
    """A CLI subprocess whose stderr is read line by line, so a test can wait for a line."""

    def __init__(self, args: list[str], db: str, env: dict | None = None):
        self.proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, "BERT_STUDIO_DB": db, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._seen:
                self.err.append(line)
                self._seen.notify_all()

    def wait_for_line(self, text: str, timeout: float = 240) -> None:
        with self._seen:
            ok = self._seen.wait_for(lambda: any(text in line for line in self.err) or self.proc.poll() is not None,
                                     timeout)
        assert ok and any(text in line for line in self.err), "".join(self.err)

    def signal_twice(self, signum: int, gap: float = 0.1) -> tuple[int, str, str, float]:
        """Send ``signum``, then again ``gap`` seconds later, and wait for the command to end (see :meth:`finish`)."""
        self.proc.send_signal(signum)
        time.sleep(gap)
        self.proc.send_signal(signum)
        return self.finish()

    def finish(self, timeout: float = 120) -> tuple[int, str, str, float]:
        began = time.monotonic()
        try:
            out = self.proc.stdout.read()
            self.proc.wait(timeout)
        finally:
            self.proc.kill()
            self._reader.join(10)
            self.proc.stdout.close()
            self.proc.stderr.close()
        return self.proc.returncode, out, "".join(self.err), time.monotonic() - began


def clean(err: str) -> None:
    assert "Traceback" not in err and "terminate called" not in err, err


def long_recipe(tmp_path: Path) -> Recipe:
    """A run that trains for minutes unless cancelled."""
    return Recipe(name="long", model=ModelRef("tiny"), data=DataRef(source=str(small_csv(tmp_path / "d.csv")),
                                                                    max_length=16),
                  steps=[Step("finetune", {"epochs": 100, "batch_size": 2})],
                  evaluation=EvaluationSettings(latency_repeats=1, latency_batch_size=4))


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'signals.db'}"


def database(request, tmp_path, backend: str) -> str:
    """A fresh database: a SQLite file, or one on tests/pg.py's PostgreSQL server."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'signals.db'}"


# -- run -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("signum, backend", [(signal.SIGINT, "sqlite"), (signal.SIGTERM, "sqlite"),
                                             (signal.SIGTERM, "postgresql")])
def test_run_cancels_at_the_next_batch_records_it_and_exits_with_the_signals_code(request, tmp_path, signum,
                                                                                  backend):
    db = database(request, tmp_path, backend)
    path = str(long_recipe(tmp_path).save(tmp_path / "long.yaml"))
    command = Command([sys.executable, "-m", "core.cli", "run", path], db)
    command.wait_for_line("[1/1] Fine-tune")
    time.sleep(0.5)
    command.proc.send_signal(signum)
    code, out, err, _ = command.finish()
    assert code == CODES[signum], out + err
    clean(err)
    assert err.count("the run stops at its next batch") == 1
    [(run_id, status)] = rows(db, "SELECT id, status FROM runs")
    assert status == "cancelled" and f"run {run_id[:8]} cancelled" in out
    assert rows(db, "SELECT status FROM steps WHERE status = 'running'") == []


def test_a_second_sigterm_leaves_at_once_and_still_records_the_run(tmp_path, db):
    path = str(long_recipe(tmp_path).save(tmp_path / "long.yaml"))
    command = Command([sys.executable, "-m", "core.cli", "run", path], db)
    command.wait_for_line("[1/1] Fine-tune")
    time.sleep(0.5)
    code, out, err, took = command.signal_twice(signal.SIGTERM)
    assert code == 143, out + err
    clean(err)
    assert took < 15
    assert [status for _, status in rows(db, "SELECT id, status FROM runs")] == ["cancelled"]


# -- study run / study worker ----------------------------------------------------------------------------------
def _long_study(tmp_path: Path) -> Path:
    import yaml

    template = long_recipe(tmp_path).to_dict()
    spec = {"format": "bert-studio-study", "version": 1, "name": "signals", "kind": "grid", "recipe": template,
            "grid": {"variants": [{"name": f"lr {lr}", "settings": {1: {"learning_rate": lr}}}
                                  for lr in (1e-4, 2e-4)]}}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _training_trial(db: str, command: Command, timeout: float = 240) -> tuple[str, str]:
    """Wait until the study's first trial has its run recorded and training; returns (study id, run id)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert command.proc.poll() is None, "".join(command.err)
        try:
            found = rows(db, "SELECT t.study_id, t.run_id FROM study_trials t JOIN steps s ON s.run_id = t.run_id "
                             "WHERE t.status = 'running' AND s.status = 'running'")
        except sa.exc.SQLAlchemyError:  # the tables are not there yet
            found = []
        if found:
            time.sleep(1.0)  # into its batches
            return found[0]
        time.sleep(0.2)
    raise AssertionError("".join(command.err))


@pytest.mark.parametrize("how, signum, backend", [("run", signal.SIGINT, "sqlite"), ("worker", signal.SIGTERM, "sqlite"),
                                                  ("run", signal.SIGTERM, "postgresql"),
                                                  ("worker", signal.SIGINT, "postgresql")])
def test_a_study_worker_cancels_its_trial_records_it_and_exits_with_the_signals_code(request, tmp_path, how, signum,
                                                                                    backend):
    """Ctrl-C during `study run` aborted the process (exit 134, 3 of 4 tries) and left the trial 'running'."""
    db = database(request, tmp_path, backend)
    if how == "run":
        args = ["study", "run", str(_long_study(tmp_path)), "--quiet"]
    else:
        from core.study.runner import create_study
        from core.study.spec import StudySpec

        study_id = create_study(StudySpec.load(_long_study(tmp_path)), db)
        args = ["study", "worker", study_id, "--quiet"]
    command = Command([sys.executable, "-m", "core.cli", *args], db)
    study_id, run_id = _training_trial(db, command)
    command.proc.send_signal(signum)
    code, out, err, _ = command.finish()
    assert code == CODES[signum], out + err
    clean(err)
    assert err.count("this worker stops, its current trial is cancelled") == 1
    assert rows(db, "SELECT number, status, run_id FROM study_trials") == [(0, "cancelled", run_id)]
    assert rows(db, "SELECT status FROM runs") == [("cancelled",)]
    assert rows(db, "SELECT status FROM steps WHERE status = 'running'") == []
    # resume runs the cancelled trial again
    assert "--resume" in out


def test_a_second_signal_leaves_a_study_at_once_and_still_records_the_trial(tmp_path, db):
    command = Command([sys.executable, "-m", "core.cli", "study", "run", str(_long_study(tmp_path)), "--quiet"], db)
    _, run_id = _training_trial(db, command)
    code, out, err, took = command.signal_twice(signal.SIGINT)
    assert code == 130, out + err
    clean(err)
    # The second signal stops the trial at once, unless the first had already stopped it at its next batch (then
    # the command is on its way out and the late signal is ignored): either way it leaves quickly, recorded.
    assert took < 15 and ("stopped at once" in out or "this worker stopped" in out), out
    assert rows(db, "SELECT number, status, run_id FROM study_trials") == [(0, "cancelled", run_id)]
    assert rows(db, "SELECT status FROM runs") == [("cancelled",)]


# -- export and bench: work on the main thread, stopped where they are ------------------------------------------
@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A database with one short finished run: ``(db url, run id, folder)``."""
    folder = tmp_path_factory.mktemp("recorded")
    db = f"sqlite:///{folder / 'studio.db'}"
    done = cli("run", recipe_file(folder), "--quiet", db=db)
    assert done.returncode == 0, done.stderr
    [(run_id,)] = rows(db, "SELECT id FROM runs")
    return db, run_id, folder


def _slowed(patch: str, args: list[str]) -> list[str]:
    """The CLI with one function slowed down in the process itself, so the signal lands mid-command for sure."""
    code = f"import time\n{patch}\nfrom core.cli import main\nraise SystemExit(main({args!r}))"
    return [sys.executable, "-c", code]


def test_sigterm_during_export_leaves_nothing_half_written_and_exits_143(recorded, tmp_path):
    db, run_id, _ = recorded
    out_dir = tmp_path / "exports" / "model"
    out_dir.parent.mkdir()
    patch = ("import core.export.api as api\n_tell = api._tell\n"
             "def slow(progress, step, message):\n    _tell(progress, step, message)\n"
             "    if step == 3:\n        print('SLOW', file=__import__('sys').stderr, flush=True); time.sleep(120)\n"
             "api._tell = slow")
    command = Command(_slowed(patch, ["export", run_id, "--out", str(out_dir)]), db)
    command.wait_for_line("SLOW")  # inside the staging folder, verifying
    command.proc.send_signal(signal.SIGTERM)
    code, out, err, took = command.finish()
    assert code == 143, out + err
    clean(err)
    assert "terminated (SIGTERM)" in err and took < 30
    assert list(out_dir.parent.iterdir()) == []  # neither the export nor its staging folder
    assert rows(db, "SELECT status FROM runs") == [("finished",)]


def test_sigint_during_bench_stops_it_with_130(recorded):
    db, run_id, _ = recorded
    patch = ("import core.cli.bench_cmd as bench\n_progress = bench._progress\n"
             "def slow(*a):\n    _progress(*a)\n    time.sleep(120)\nbench._progress = slow")
    command = Command(_slowed(patch, ["bench", run_id, "--rounds", "1"]), db)
    command.wait_for_line("[")
    command.proc.send_signal(signal.SIGINT)
    code, out, err, _ = command.finish()
    assert code == 130, out + err
    clean(err)
    assert err.strip().splitlines()[-1] == "interrupted"
