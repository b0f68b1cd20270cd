"""Studies and their trials in the experiment database.

Several worker processes (on several machines) may work on one study at once.
They share its budget through :meth:`StudyRepository.claim_slot`: one atomic
``UPDATE studies SET claimed = claimed + 1 WHERE claimed < max_trials``, so every
slot goes to exactly one worker on SQLite and PostgreSQL alike, with no
scheduler of our own. A server that goes away is waited for (:mod:`core.db.outage`). Every time stamped here (heartbeats, starts, ends) and every
liveness or deadline decision uses the database server's clock (:mod:`core.db.clock`),
so workers whose machines' clocks disagree never reap each other's live trials.
"""

from __future__ import annotations

import functools
import math
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from core.db.clock import server_now
from core.db.database import Database
from core.db.domain import StudyRecord, StudySummary, StudyTrialRecord
from core.db.errors import StudyNotFoundError
from core.db.outage import retrying
from core.db.schema import RunRow, StudyRow, StudyTrialRow

INTERRUPTED_TRIAL = "the worker running this trial stopped before it ended"


def _patient(method):
    """Run the method's transaction again while the server is unreachable (:func:`core.db.outage.retrying`)."""

    @functools.wraps(method)
    def patiently(self, *args, **kwargs):
        return retrying(lambda: method(self, *args, **kwargs), self.db.url, what=self.doing,
                        patience_s=self.patience_s, stop=self.stop)

    return patiently


class StudyRepository:
    """Create, list and update studies and their trials.

    ``patience_s``: how long each call waits for a database server that went away (reconnecting with
    backoff, said once) before it raises :class:`~core.db.outage.DatabaseUnreachable`; 0 (the default)
    raises at the first failure. ``stop``: an event that ends the waiting early (the worker was stopped).
    """

    def __init__(self, db: Database, *, patience_s: float = 0.0, stop: threading.Event | None = None):
        self.db = db
        self.patience_s, self.stop = patience_s, stop
        self.doing = "working on a study"

    def call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, one transaction on this database, with this repository's patience."""
        return retrying(lambda: fn(*args, **kwargs), self.db.url, what=self.doing, patience_s=self.patience_s,
                        stop=self.stop)

    # -- studies ---------------------------------------------------------------
    @_patient
    def create_study(self, name: str, kind: str, spec: Mapping[str, Any], *, max_trials: int | None,
                     deadline: datetime | None = None, seconds: float | None = None,
                     study_id: str | None = None) -> StudyRecord:
        """``seconds``: the study's time budget, its deadline counted on the server's clock (like every liveness
        decision), not this machine's; ``deadline``: an absolute one instead."""
        with self.db.session() as s:
            now = server_now(s)
            if seconds:
                deadline = now + timedelta(seconds=seconds)
            row = StudyRow(id=study_id or uuid.uuid4().hex, name=name, kind=kind, spec=dict(spec), status="running",
                           created_at=now, max_trials=max_trials, deadline=deadline, claimed=0)
            s.add(row)
        return self.get_study(row.id)

    @_patient
    def list_studies(self, limit: int | None = None) -> list[StudySummary]:
        query = sa.select(StudyRow).order_by(StudyRow.created_at.desc(), StudyRow.id)
        if limit is not None:
            query = query.limit(limit)
        with self.db.session() as s:
            return [_summary(row) for row in s.scalars(query)]

    @_patient
    def resolve_id(self, study_id: str) -> str:
        with self.db.session() as s:
            return _resolve(s, study_id)

    @_patient
    def get_study(self, study_id: str) -> StudyRecord:
        with self.db.session() as s:
            full = _resolve(s, study_id)
            row = s.scalars(sa.select(StudyRow).where(StudyRow.id == full)
                            .options(selectinload(StudyRow.trials))).one()
            summary = _summary(row)
            return StudyRecord(**{f: getattr(summary, f) for f in summary.__dataclass_fields__},
                               spec=dict(row.spec or {}), trials=tuple(_trial(t) for t in row.trials))

    @_patient
    def set_status(self, study_id: str, status: str) -> None:
        """Set the study's status; any status but 'running' also stamps its end."""
        with self.db.session() as s:
            row = s.get(StudyRow, _resolve(s, study_id))
            row.status = status
            row.ended_at = None if status == "running" else server_now(s)

    @_patient
    def delete_study(self, study_id: str) -> None:
        """Delete the study and its trial rows; the runs stay (they are ordinary runs)."""
        with self.db.session() as s:
            s.delete(s.get(StudyRow, _resolve(s, study_id)))

    # -- the shared budget -------------------------------------------------------
    @_patient
    def claim_slot(self, study_id: str) -> int | None:
        """Take the next trial slot (0-based), or None when the budget is spent or the study is over.

        Atomic across processes: the conditional UPDATE locks the row (PostgreSQL) or the
        file (SQLite) until it commits, so two workers never get the same slot.
        """
        with self.db.session() as s:
            full = _resolve(s, study_id)
            deadline = s.scalar(sa.select(StudyRow.deadline).where(StudyRow.id == full))
            if deadline is not None and server_now(s) >= deadline:
                return None
            claimed = s.execute(
                sa.update(StudyRow)
                .where(StudyRow.id == full, StudyRow.status == "running",
                       sa.or_(StudyRow.max_trials.is_(None), StudyRow.claimed < StudyRow.max_trials))
                .values(claimed=StudyRow.claimed + 1)
                .returning(StudyRow.claimed)).scalar()
            return None if claimed is None else claimed - 1

    # -- trials ------------------------------------------------------------------
    @_patient
    def add_trial(self, study_id: str, number: int, *, label: str = "", params: Mapping[str, Any] | None = None,
                  worker: str | None = None, status: str = "running", note: str | None = None,
                  optuna_trial: int | None = None) -> None:
        with self.db.session() as s:
            now = server_now(s)
            s.add(StudyTrialRow(study_id=_resolve(s, study_id), number=number, label=label, params=dict(params or {}),
                                status=status, note=note, worker=worker, optuna_trial=optuna_trial,
                                started_at=now, ended_at=None if status == "running" else now, heartbeat_at=now))

    @_patient
    def restart_trial(self, study_id: str, number: int, *, label: str, params: Mapping[str, Any] | None = None,
                      optuna_trial: int | None = None) -> None:
        """A reclaimed trial starts again: new label and params, no run, no value, no end."""
        with self.db.session() as s:
            now = server_now(s)
            row = _trial_row(s, study_id, number)
            row.label, row.params, row.optuna_trial = label, dict(params or {}), optuna_trial
            row.run_id, row.value, row.note, row.ended_at = None, None, None, None
            row.started_at = row.heartbeat_at = now

    @_patient
    def reclaim_slot(self, study_id: str, worker: str | None = None,
                     statuses: tuple[str, ...] = ("cancelled", "interrupted")) -> int | None:
        """Take back the lowest-numbered trial that ended ``statuses`` (to run it again), or None.

        The conditional UPDATE re-checks the status under the row lock, so of two workers reaching
        for the same trial exactly one gets it; the other tries the next one.
        """
        for _ in range(100):
            with self.db.session() as s:
                full = _resolve(s, study_id)
                number = s.scalar(sa.select(StudyTrialRow.number).where(
                    StudyTrialRow.study_id == full, StudyTrialRow.status.in_(statuses))
                    .order_by(StudyTrialRow.number).limit(1))
                if number is None:
                    return None
                now = server_now(s)
                got = s.execute(sa.update(StudyTrialRow).where(
                    StudyTrialRow.study_id == full, StudyTrialRow.number == number,
                    StudyTrialRow.status.in_(statuses))
                    .values(status="running", worker=worker, heartbeat_at=now, started_at=now, ended_at=None)
                    .returning(StudyTrialRow.number)).scalar()
                if got is not None:
                    return got
        return None

    @_patient
    def beat(self, study_id: str, numbers: list[int] | tuple[int, ...]) -> None:
        """The worker running these trials is alive (stamps ``heartbeat_at`` with the server's clock)."""
        if not numbers:
            return
        with self.db.session() as s:
            s.execute(sa.update(StudyTrialRow).where(
                StudyTrialRow.study_id == _resolve(s, study_id), StudyTrialRow.number.in_(list(numbers)),
                StudyTrialRow.status == "running").values(heartbeat_at=server_now(s)))

    @_patient
    def stale_trials(self, study_id: str, grace_s: float) -> list[StudyTrialRecord]:
        """Running trials whose worker has been silent for more than ``grace_s`` seconds of the server's clock.

        Never this machine's clock (:mod:`core.db.clock`): a worker whose clock runs minutes ahead would
        otherwise reap every other worker's live trial.
        """
        with self.db.session() as s:
            limit = server_now(s) - timedelta(seconds=grace_s)
            full = _resolve(s, study_id)
            rows = s.scalars(sa.select(StudyTrialRow).where(
                StudyTrialRow.study_id == full, StudyTrialRow.status == "running",
                sa.func.coalesce(StudyTrialRow.heartbeat_at, StudyTrialRow.started_at) < limit)
                .order_by(StudyTrialRow.number))
            return [_trial(r) for r in rows]

    @_patient
    def reopen(self, study_id: str, extra_trials: int = 0) -> None:
        """Set a stopped study running again (resume); ``extra_trials`` widens its trial budget."""
        with self.db.session() as s:
            row = s.get(StudyRow, _resolve(s, study_id))
            row.status, row.ended_at = "running", None
            if extra_trials and row.max_trials is not None:
                row.max_trials += extra_trials

    @_patient
    def link_run(self, study_id: str, number: int, run_id: str) -> bool:
        """Point the trial at its run; False while the run row does not exist yet."""
        with self.db.session() as s:
            if s.get(RunRow, run_id) is None:
                return False
            _trial_row(s, study_id, number).run_id = run_id
            return True

    @_patient
    def end_trial(self, study_id: str, number: int, status: str, *, value: float | None = None,
                  note: str | None = None) -> None:
        with self.db.session() as s:
            row = _trial_row(s, study_id, number)
            row.status = status
            row.value = None if value is None or math.isnan(value) else float(value)
            if note is not None:
                row.note = note
            row.ended_at = server_now(s)

    @_patient
    def interrupt_trial(self, study_id: str, number: int, note: str = INTERRUPTED_TRIAL) -> None:
        """Mark a trial whose worker died, and its run if that still reads 'running'."""
        with self.db.session() as s:
            row = _trial_row(s, study_id, number)
            if row.status != "running":
                return
            row.status, row.note, row.ended_at = "interrupted", note, server_now(s)
            run = s.get(RunRow, row.run_id) if row.run_id else None
            if run is not None and run.status == "running":
                run.status, run.error, run.ended_at = "interrupted", note, row.ended_at
                for step in run.steps:
                    if step.status == "running":
                        step.status = "interrupted"

    def trials(self, study_id: str) -> list[StudyTrialRecord]:
        return list(self.get_study(study_id).trials)


def _resolve(s: Session, study_id: str) -> str:
    study_id = (study_id or "").strip()
    if not study_id:
        raise StudyNotFoundError("no study id given")
    if s.get(StudyRow, study_id) is not None:
        return study_id
    matches = list(s.scalars(sa.select(StudyRow.id).where(StudyRow.id.startswith(study_id, autoescape=True))
                             .limit(20)))
    if not matches:
        raise StudyNotFoundError(f"no study with id {study_id!r} in the database")
    if len(matches) > 1:
        raise StudyNotFoundError(f"the study id prefix {study_id!r} matches several studies "
                                 f"({', '.join(m[:12] for m in matches[:5])}); type more characters")
    return matches[0]


def _trial_row(s: Session, study_id: str, number: int) -> StudyTrialRow:
    full = _resolve(s, study_id)
    row = s.scalar(sa.select(StudyTrialRow).where(StudyTrialRow.study_id == full, StudyTrialRow.number == number))
    if row is None:
        raise StudyNotFoundError(f"study {full[:8]} has no trial {number}")
    return row


def _summary(row: StudyRow) -> StudySummary:
    return StudySummary(id=row.id, name=row.name, kind=row.kind, status=row.status, created_at=row.created_at,
                        ended_at=row.ended_at, max_trials=row.max_trials, deadline=row.deadline, claimed=row.claimed)


def _trial(row: StudyTrialRow) -> StudyTrialRecord:
    return StudyTrialRecord(number=row.number, label=row.label, params=dict(row.params or {}), run_id=row.run_id,
                            status=row.status, value=math.nan if row.value is None else row.value, note=row.note,
                            worker=row.worker, started_at=row.started_at, ended_at=row.ended_at,
                            optuna_trial=row.optuna_trial, heartbeat_at=row.heartbeat_at)
