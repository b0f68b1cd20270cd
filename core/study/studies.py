"""A study as a record: create it, stop it, read its report, and mark the trials of a worker that died.

Qt-free helpers shared by the workers (:mod:`core.study.runner`), the CLI and the studio; each function opens
the database from its URL (:func:`study_report` also takes an open one), so any process that reaches it may call them.
"""

from __future__ import annotations

import os
import socket
import uuid

from core import events as ev
from core.study.trial_sources import trial_kind
from core.study.plan import plan
from core.study.spec import StudySpec


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def create_study(spec: StudySpec, db_url: str | None = None, study_id: str | None = None) -> str:
    """Record ``spec`` as a new study (status 'running') and return its id; workers then join it."""
    from core.db import StudyRepository, open_database

    if spec.kind == "search":
        slots = spec.max_trials
    else:
        slots = len(plan(spec))
        if spec.max_trials is not None:
            slots = min(slots, spec.max_trials)
    with open_database(db_url) as db:
        record = StudyRepository(db).create_study(spec.name, spec.kind, spec.to_dict(), max_trials=slots,
                                                  seconds=spec.seconds, study_id=study_id)
        url = db.engine.url.render_as_string(hide_password=False)
    if spec.kind == "search":
        from core.study.search import create_optuna_study

        create_optuna_study(spec, url, record.id)
    return record.id


def stop_study(db_url: str | None, study_id: str) -> None:
    """Stop the whole study: every worker stops (cancelling its current trial); ``resume=True`` restarts it."""
    from core.db import StudyRepository, open_database

    with open_database(db_url) as db:
        StudyRepository(db).set_status(study_id, "cancelled")


def study_report(db_url_or_db, study_id: str):
    """What the study found so far (see :class:`core.study.report.StudyReport`)."""
    from core.study.report import build_report

    return build_report(db_url_or_db, study_id)



def interrupt_worker(db_url: str | None, study_id: str, worker: str, why: str) -> list[ev.TrialFinished]:
    """Mark the running trials of ``worker`` (a process known to be gone) interrupted, with their runs.

    What a live worker does after ``grace_s`` of silence (:meth:`StudyRunner._reap`), done at once by the
    process that saw the worker end. A search study's Optuna trials are failed too, so its sampler stops
    waiting on them. Returns the :class:`~core.events.TrialFinished` events to publish.
    """
    from core.db import StudyRepository, open_database

    ended = []
    with open_database(db_url) as db:
        studies = StudyRepository(db)
        record = studies.get_study(study_id)
        mine = [t for t in record.trials if t.status == "running" and t.worker == worker]
        if not mine:
            return []
        kind = trial_kind(StudySpec.from_dict(record.spec), db.engine.url.render_as_string(hide_password=False),
                          record.id)
        try:
            for trial in mine:
                note = f"its worker process ended unexpectedly ({why})"
                studies.interrupt_trial(record.id, trial.number, note=note)
                kind.interrupted(trial)
                ended.append(ev.TrialFinished(record.id, number=trial.number, label=trial.label, run_id=trial.run_id,
                                              status="interrupted", value=float("nan"), figures={}, note=note))
        finally:
            kind.close()
    return ended


def interrupt_study_if_idle(db_url: str | None, study_id: str) -> str:
    """After workers died: a study still 'running' with no running trial becomes 'interrupted' (resumable).

    A study some other worker still works on (a trial of it runs) stays as it is. Returns the status.
    """
    from core.db import StudyRepository, open_database

    with open_database(db_url) as db:
        repo = StudyRepository(db)
        record = repo.get_study(study_id)
        if record.status == "running" and not any(t.status == "running" for t in record.trials):
            repo.set_status(record.id, "interrupted")
            return "interrupted"
        return record.status
