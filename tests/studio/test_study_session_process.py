"""The Study view's session runs its workers as `bert-studio study worker` processes (issue 26, part 1)."""

from __future__ import annotations

import os
import signal

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from core import events as ev
from core.study.spec import StudySpec
from tests.studio.test_study_view import STUDY_TIMEOUT_MS, order_template


def order_spec(max_steps: int = 1) -> StudySpec:
    return StudySpec.from_dict({"kind": "order", "name": "in processes", "recipe": order_template(max_steps).to_dict(),
                                "order": {"steps": [2, 3]}})


def on_gui_thread(seen: list):
    """A slot that records each event with whether it ran on the GUI thread."""
    return lambda e: seen.append((e, QThread.currentThread() is QApplication.instance().thread()))


def worker_pid(name: str) -> int:
    return int(name.split(":")[1])  # core.study.studies.worker_name: host:pid:tag


def test_trials_run_in_worker_processes_that_share_the_step_cache(qtbot, tmp_path, db_url):
    from core.db import StudyRepository, open_database
    from core.engine.cache import cache_root_for
    from studio.study.session import StudySession

    session = StudySession(db_url, workdir_root=tmp_path / "runs")
    started, finished, steps = [], [], []
    session.trialStarted.connect(on_gui_thread(started))
    session.trialFinished.connect(on_gui_thread(finished))
    session.runEvent.connect(lambda e: steps.append(e) if isinstance(e, ev.StepFinished) else None)
    session.create(order_spec())
    with qtbot.waitSignal(session.ended, timeout=STUDY_TIMEOUT_MS) as ended:
        session.start(workers=2)
        pids = session.pids
        assert len(set(pids)) == 2 and os.getpid() not in pids
    assert ended.args == ["finished"] and not session.running

    with open_database(db_url) as db:
        trials = StudyRepository(db).trials(session.study_id)
    assert [t.status for t in trials] == ["finished"] * 4
    assert {worker_pid(t.worker) for t in trials} <= set(pids)  # every trial ran in one of the session's children
    # Their events came back to this process, each on the GUI thread.
    assert sorted(e.number for e, _ in started) == sorted(e.number for e, _ in finished) == [0, 1, 2, 3]
    assert all(on_gui for _, on_gui in started + finished)
    # One step cache and one database for every worker: a later trial starts from the teacher another computed.
    cache = str(cache_root_for(db_url))
    for worker in session.workers:
        command = worker.command
        assert command[command.index("--db") + 1] == db_url and command[command.index("--cache") + 1] == cache
    assert any(e.index == 0 and "reused_from" in e.summary for e in steps), [e.summary for e in steps]


def test_stop_cancels_and_a_killed_worker_is_reported_and_its_trial_interrupted(qtbot, tmp_path, db_url, dialogs):
    from core.db import Repository, StudyRepository, open_database
    from studio.study.study_view import StudyView
    from tests.studio.conftest import shown

    view = shown(qtbot, StudyView(db_url, workdir_root=tmp_path / "runs"), 1100, 700)
    session = view.session
    session.create(order_spec(max_steps=400))  # long enough to be stopped, then killed, in its first trial
    running = []
    session.runEvent.connect(lambda e: running.append(e.run_id) if isinstance(e, ev.StepStarted) else None)

    # Stop: the worker cancels its trial and marks the study cancelled; nothing is left running.
    with qtbot.waitSignal(session.trialStarted, timeout=120_000) as first:
        session.start(workers=1)
    qtbot.waitUntil(lambda: first.args[0].run_id in running, timeout=120_000)
    with qtbot.waitSignal(session.ended, timeout=90_000) as ended:
        session.stop()
    assert ended.args == ["cancelled"]
    assert session.workers[0].process.wait(30) is not None

    # Resume, then kill the worker mid-trial: the view hears it, the trial and its run are marked, nothing hangs.
    failures, finished = [], []
    session.failed.connect(failures.append)
    session.trialFinished.connect(finished.append)
    with qtbot.waitSignal(session.trialStarted, timeout=120_000) as again:
        session.start(workers=1, resume=True)
    trial = again.args[0]
    assert trial.number == first.args[0].number  # the cancelled trial runs again first
    qtbot.waitUntil(lambda: running.count(trial.run_id) >= 1, timeout=120_000)
    with qtbot.waitSignal(session.ended, timeout=60_000) as ended:
        os.kill(session.pids[0], signal.SIGKILL)
    assert ended.args == ["interrupted"] and not session.running
    assert len(failures) == 1 and isinstance(failures[0], ev.StudyWorkerFailed)
    assert "SIGKILL" in failures[0].error and f"trial {trial.number + 1}" in failures[0].error
    assert [(e.number, e.status) for e in finished] == [(trial.number, "interrupted")]
    with open_database(db_url) as db:
        record = StudyRepository(db).get_study(session.study_id)
        run = Repository(db).get_run(trial.run_id)
    assert record.status == "interrupted"
    assert {t.number: t.status for t in record.trials}[trial.number] == "interrupted"
    assert run.status == "interrupted"
    # The view says so: a dialog naming the exit code, the trial's row, and Resume on offer.
    assert [title for title, _, _ in dialogs.errors] == ["A study worker stopped"]
    assert "SIGKILL" in dialogs.errors[0][1]
    assert view.trials.status_of(trial.number) == "interrupted" and view.resume_button.isEnabled()
    view.shutdown(30)
