"""Run a study's workers in processes of their own and re-emit their events on the GUI thread.

Each worker is a ``bert-studio study worker ID --db URL`` process (:class:`core.study.worker_process.WorkerProcess`)
that writes its events to a JSON-lines file; a ``QTimer`` here reads the new lines every :data:`POLL_MS` and
emits them as typed signals. Why not threads of this process: a worker thread held the interpreter lock for up
to a third of a second at a time and the window froze meanwhile (issue 26; ``bench.gui_stall --study``).
The study's state lives in the database, so what the view draws is :func:`core.study.runner.study_report`,
re-read when a trial starts or ends. The workers record their runs themselves and share the step cache beside
the database (the teacher is fine-tuned once for the whole study).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from core import events as ev
from core.study import studies
from core.study.spec import StudySpec
from core.study.worker_process import WorkerProcess
from studio.run_controller import WORKER_NICENESS

POLL_MS = 100  # how often the workers' event files are read (one batch of events per worker and tick)


class StudySession(QObject):
    """One study in this studio: create it, start N worker processes, stop, resume, hear its events here."""

    studyStarted = Signal(object)  # StudyStarted (one per worker)
    trialStarted = Signal(object)  # TrialStarted
    trialFinished = Signal(object)  # TrialFinished
    runEvent = Signal(object)  # the trials' own run events (progress, metrics...)
    workerEnded = Signal(object)  # StudyEnded of one worker
    ended = Signal(str)  # every worker of this session left; the study's status then

    failed = Signal(object)  # StudyWorkerFailed: a worker process ended without leaving the study

    def __init__(self, db_url: str | None, parent: QObject | None = None, workdir_root=None,
                 niceness: int = WORKER_NICENESS, heartbeat_s: float = 10.0, grace_s: float = 120.0):
        super().__init__(parent)
        self.db_url = db_url
        self.workdir_root = Path(workdir_root) if workdir_root else None
        self.niceness, self.heartbeat_s, self.grace_s = niceness, heartbeat_s, grace_s
        self.study_id: str | None = None
        self.workers: list[WorkerProcess] = []
        self._typed = {ev.StudyStarted: self.studyStarted, ev.TrialStarted: self.trialStarted,
                       ev.TrialFinished: self.trialFinished, ev.StudyEnded: self.workerEnded,
                       ev.StudyWorkerFailed: self.failed}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.status = ""  # the study's status as the last worker left it
        self._db = None  # the database the reports are read from, opened once (opening checks the schema)
        self._db_url_open: str | None = None

    @property
    def running(self) -> bool:
        """Whether a worker of this session has not yet been heard to end."""
        return any(w.ended is None for w in self.workers)

    @property
    def pids(self) -> list[int]:
        """The process ids of this session's workers (the last ones started)."""
        return [w.pid for w in self.workers if w.pid is not None]

    def create(self, spec: StudySpec) -> str:
        """Record ``spec`` as a new study in the database; returns its id."""
        self.study_id = studies.create_study(spec, self.db_url)
        return self.study_id

    def start(self, workers: int = 1, resume: bool = False) -> None:
        """Start ``workers`` processes on the study (``resume``: re-open it and rerun its stopped trials first)."""
        from core.engine.cache import cache_root_for
        from core.env import default_database_url, studio_home

        if self.study_id is None:
            raise RuntimeError("no study: create() one first")
        if self.running:
            raise RuntimeError("the study's workers are still running")
        url = self.db_url or default_database_url()
        count = max(1, workers)
        root = (self.workdir_root.parent if self.workdir_root else studio_home()) / "study-workers"
        # A folder of its own per start: a resume must not read the last start's events or its 'cancel'.
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        # Re-opening is idempotent and re-claiming a stopped trial atomic: every worker may resume.
        # Each worker records its own runs; all share one step cache (named, not left to each one's cwd).
        self.workers = [WorkerProcess(url, self.study_id, root / self.study_id[:8] / f"{stamp}-{i + 1}", resume=resume,
                                      workdir_root=self.workdir_root, cache_root=cache_root_for(url),
                                      niceness=self.niceness, heartbeat_s=self.heartbeat_s, grace_s=self.grace_s,
                                      threads=max(1, (os.cpu_count() or 1) // count))
                        for i in range(count)]
        self.status = ""
        try:
            for worker in self.workers:
                worker.start()
        except Exception:
            for worker in self.workers:
                worker.kill()
            self.workers = []
            raise
        self._timer.start()

    def stop(self) -> None:
        """Stop the whole study: each worker cancels its current trial; Resume runs those again."""
        if self.running:
            for worker in self.workers:
                worker.stop()
        elif self.study_id is not None:
            studies.stop_study(self.db_url, self.study_id)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop and wait for the workers (the window closes); one still going after ``timeout`` is killed."""
        self.stop()
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            self._deliver(worker.wait(max(0.0, deadline - time.monotonic())))
            if worker.ended is None:
                worker.kill()
                self._deliver(worker.wait(10))
        self._poll()
        self.close()

    def saved_studies(self, limit: int = 50) -> list:
        """The studies recorded in the database, newest first (:class:`core.db.StudySummary`)."""
        from core.db import StudyRepository

        return StudyRepository(self._reading_db()).list_studies(limit)

    def open(self, study_id: str) -> None:
        """Follow a study already in the database (to see it, or resume it)."""
        if self.running:
            raise RuntimeError("the study's workers are still running")
        self.study_id = study_id

    def report(self):
        """What the study found so far (:class:`core.study.report.StudyReport`), or None before it exists."""
        if self.study_id is None:
            return None
        return studies.study_report(self._reading_db(), self.study_id)

    def _reading_db(self):
        """One open database for the reports the view re-reads as trials start and end, on the GUI thread.

        Opening one validates its schema (tens of milliseconds of this thread, more on a busy machine): done
        once per database URL, not per report.
        """
        from core.db import open_database

        if self._db is None or self._db_url_open != self.db_url:
            self.close()
            self._db, self._db_url_open = open_database(self.db_url), self.db_url
        return self._db

    def close(self) -> None:
        """Close the database the reports were read from (the next report opens it again)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- following the workers -------------------------------------------------------------------------
    @Slot()
    def _poll(self) -> None:
        if not self.workers:
            self._timer.stop()
            return
        was_running = self._timer.isActive()
        for worker in self.workers:
            self._deliver(worker.poll())
        if not self.running and was_running:
            self._timer.stop()
            self._all_left()

    def _deliver(self, events) -> None:
        for event in events:
            signal = next((sig for cls, sig in self._typed.items() if isinstance(event, cls)), None)
            if signal is not None:
                if isinstance(event, ev.StudyEnded):
                    self.status = event.status
                signal.emit(event)
            elif isinstance(event, ev.Event):
                self.runEvent.emit(event)

    def _all_left(self) -> None:
        if any(isinstance(w.ended, ev.StudyWorkerFailed) for w in self.workers):
            # No worker of ours left it in order: the study is 'interrupted' (resumable) unless another worker,
            # elsewhere, still runs a trial of it.
            try:
                self.status = studies.interrupt_study_if_idle(self.db_url, self.study_id)
            except Exception:  # the database is unreachable: the view says what it last read
                pass
        self.ended.emit(self.status)
