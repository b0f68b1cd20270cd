"""Run a study's workers off the GUI thread and re-emit their events on it.

Each worker is a :class:`core.study.runner.StudyRunner` on a thread of its own with an
:class:`~core.events.EventBus` of its own; as :class:`studio.bridge.EventBridge` does for runs, the buses'
callbacks (on the workers' threads) emit one queued signal and the events come back on the GUI thread as typed
signals. The study's state lives in the database, so what the view draws is
:func:`core.study.runner.study_report`, re-read when a trial starts or ends.

Why threads and not the studio's run worker process: the runner's trials share the step cache (the
teacher is fine-tuned once for the whole study), which the in-process engine has and
:class:`~core.engine.process.ProcessEngine`'s worker does not (yet).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal, Slot

from core import events as ev
from core.study import runner as study_runner
from core.study.spec import StudySpec


class StudySession(QObject):
    """One study in this studio: create it, start N workers, stop, resume, hear its events on the GUI thread."""

    studyStarted = Signal(object)  # StudyStarted (one per worker)
    trialStarted = Signal(object)  # TrialStarted
    trialFinished = Signal(object)  # TrialFinished
    runEvent = Signal(object)  # the trials' own run events (progress, metrics...)
    workerEnded = Signal(object)  # StudyEnded of one worker
    ended = Signal(str)  # every worker of this session left; the study's status then

    failed = Signal(object)  # a worker stopped on an exception (it is passed)

    _incoming = Signal(object)
    _worker_done = Signal(object)  # a worker thread returned (its outcome) or raised (the exception)

    def __init__(self, db_url: str | None, parent: QObject | None = None, workdir_root=None, task=None):
        super().__init__(parent)
        self.db_url = db_url
        self.workdir_root = workdir_root
        self.task = task  # prepared data shared by the workers (tests), else each worker prepares it
        self.study_id: str | None = None
        self.runners: list[study_runner.StudyRunner] = []
        self._typed = {study_runner.StudyStarted: self.studyStarted, study_runner.TrialStarted: self.trialStarted,
                       study_runner.TrialFinished: self.trialFinished, study_runner.StudyEnded: self.workerEnded}
        self._incoming.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)
        self._worker_done.connect(self._on_worker_done, Qt.ConnectionType.QueuedConnection)
        self._threads: list[threading.Thread] = []
        self._pending = 0
        self._unsubscribe: list = []
        self.status = ""  # the study's status as the last worker left it

    @property
    def running(self) -> bool:
        """Whether a worker of this session has not yet been heard to end."""
        return self._pending > 0

    def create(self, spec: StudySpec) -> str:
        """Record ``spec`` as a new study in the database; returns its id."""
        self.study_id = study_runner.create_study(spec, self.db_url)
        return self.study_id

    def start(self, workers: int = 1, resume: bool = False) -> None:
        """Start ``workers`` threads on the study (``resume``: re-open it and rerun its stopped trials first)."""
        if self.study_id is None:
            raise RuntimeError("no study: create() one first")
        if self.running:
            raise RuntimeError("the study's workers are still running")
        self.runners = []
        for i in range(max(1, workers)):
            # Re-opening is idempotent and re-claiming a stopped trial atomic: every worker may resume.
            # A bus per worker: each worker's recorder writes its own runs only.
            bus = ev.EventBus()
            self._unsubscribe += [bus.subscribe(study_runner.StudyEvent, self._incoming.emit),
                                  bus.subscribe(ev.Event, self._incoming.emit)]
            runner = study_runner.StudyRunner(self.db_url, self.study_id, bus=bus, resume=resume,
                                              workdir_root=self.workdir_root, task=self.task)
            self.runners.append(runner)
        self._pending = len(self.runners)
        self._threads = [threading.Thread(target=self._work, args=(r,), name=f"study-worker-{i}", daemon=True)
                         for i, r in enumerate(self.runners)]
        for thread in self._threads:
            thread.start()

    def _work(self, runner: study_runner.StudyRunner) -> None:
        try:
            outcome = runner.run()
        except BaseException as exc:  # shown by the view; the study stays resumable
            self._worker_done.emit(exc)
        else:
            self._worker_done.emit(outcome)

    def stop(self) -> None:
        """Stop the whole study: each worker cancels its current trial; Resume runs those again."""
        if self.running:
            for runner in self.runners:
                runner.stop(study=True)
        elif self.study_id is not None:
            study_runner.stop_study(self.db_url, self.study_id)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop and wait for the workers (the window closes)."""
        self.stop()
        for thread in self._threads:
            thread.join(timeout)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def saved_studies(self, limit: int = 50) -> list:
        """The studies recorded in the database, newest first (:class:`core.db.StudySummary`)."""
        from core.db import StudyRepository, open_database

        with open_database(self.db_url) as db:
            return StudyRepository(db).list_studies(limit)

    def open(self, study_id: str) -> None:
        """Follow a study already in the database (to see it, or resume it)."""
        if self.running:
            raise RuntimeError("the study's workers are still running")
        self.study_id = study_id

    def report(self):
        """What the study found so far (:class:`core.study.report.StudyReport`), or None before it exists."""
        if self.study_id is None:
            return None
        return study_runner.study_report(self.db_url, self.study_id)

    @Slot(object)
    def _dispatch(self, event) -> None:
        signal = next((sig for cls, sig in self._typed.items() if isinstance(event, cls)), None)
        if signal is not None:
            signal.emit(event)
            if isinstance(event, study_runner.StudyEnded):
                self.status = event.status
        elif isinstance(event, ev.Event):
            self.runEvent.emit(event)

    @Slot(object)
    def _on_worker_done(self, value) -> None:
        if isinstance(value, BaseException):
            self.failed.emit(value)
        else:
            self.status = value.status
        self._pending -= 1
        if self._pending == 0:
            self.ended.emit(self.status)
