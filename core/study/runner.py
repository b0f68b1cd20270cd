"""Run a study: claim trials from the shared budget, run each as an ordinary recorded run, report back.

Qt-free; the CLI (``bert-studio study``) and the studio's Study view are both clients of this module.
Every worker (a thread in the studio, a ``bert-studio study worker`` process, on any machine that
reaches the same database) runs the same loop: take the next trial slot from the study's budget
(:meth:`core.db.StudyRepository.claim_slot`, atomic across processes), build that trial's recipe,
run it through the :class:`~core.engine.Engine` with the shared step cache (so the teacher and
shared prefixes are computed once), record it as an ordinary run linked to the trial, and give
its score back. No scheduler of our own: a search study's sampler state lives in Optuna's
relational storage beside the runs (:mod:`core.study.storage`).

The public API, with an example of each call, is in ``docs/studies.md`` ("From Python").

Events (frozen dataclasses of :mod:`core.events`, re-exported here; published on ``runner.bus`` beside the
engine's own run events, which carry the trial's ``run_id``; :mod:`core.engine.event_stream` carries both out
of a worker process): :class:`StudyStarted` (this worker joined), :class:`TrialStarted`,
:class:`TrialFinished` (status finished | pruned | failed | cancelled | skipped | interrupted, the score, the
figures), :class:`StudyEnded` (this worker left; ``status`` is the study's then).

Creating, stopping and reading a study, and marking a dead worker's trials, live in
:mod:`core.study.studies`; how a slot becomes a recipe, per kind of study, in :mod:`core.study.trial_sources`;
following worker processes from another process (the studio) in :mod:`core.study.worker_process`.

``StudyRunner(db_url, study_id, *, bus=None, cache=DEFAULT, engine=None, record=True, resume=False,
heartbeat_s=10, grace_s=120, poll_s=2, worker=None)``: ``cache`` a
:class:`~core.engine.cache.StepCache` (default: the one beside the database; None: none);
``task`` the prepared data when the caller has it (default: prepared once per worker, shared by
its trials); ``engine`` any engine with ``bus`` and ``start(recipe, run_id=...) -> handle`` (``cancel()``,
``join(timeout)``, ``done``, ``result``), e.g. the studio's ``ProcessEngine`` (its bus must be the
runner's; default: an in-process :class:`~core.engine.Engine` with the cache); ``record`` False
when the caller already records the bus's runs into this database (the studio's recorder).

Liveness: a worker stamps its running trial every ``heartbeat_s`` seconds; a trial silent for more
than ``grace_s`` (its worker was killed, its machine lost) is marked ``interrupted`` by whichever
worker notices, with its run (a process that started the worker and saw it end marks it at once:
:func:`core.study.studies.interrupt_worker`). A worker that finds the budget spent waits for the other workers'
running trials to end (or go silent), then marks the study ``finished``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import events as ev
from core.db import pending
from core.db.outage import PATIENCE_S, DatabaseUnreachable, is_outage, outage_of
from core.events import StudyEnded, StudyEvent, StudyStarted, TrialFinished, TrialStarted  # noqa: F401 (public API)
from core.study.trial_outcome import PRUNE_METRIC, STOPPED_TRIAL, keep, pending_data, prune_metric  # noqa: F401
from core.study.trial_outcome import record_unrunnable, trial_status, watch_pruning
from core.study.trial_sources import trial_kind
from core.study.objective import Objective
from core.study.plan import Prepared
from core.study.spec import StudySpec
from core.study.studies import create_study, interrupt_worker, stop_study, study_report, worker_name  # noqa: F401

log = logging.getLogger(__name__)

DEFAULT = object()  # StudyRunner(cache=DEFAULT): the step cache beside the database


@dataclass
class StudyOutcome:
    study_id: str
    status: str  # the study's status when this worker left ("unreachable": its database went away)
    trials: list[int] = field(default_factory=list)  # the slots this worker ran
    error: str | None = None  # why the worker stopped early (its database stayed unreachable)
    kept: list[Path] = field(default_factory=list)  # runs kept in files for the database (core.db.pending)


# -- a worker ----------------------------------------------------------------------------------------
class StudyRunner:
    """One worker of one study (see the module docstring)."""

    def __init__(self, db_url: str | None, study_id: str, *, bus: ev.EventBus | None = None, cache: Any = DEFAULT,
                 engine=None, record: bool = True, resume: bool = False, heartbeat_s: float = 10.0,
                 grace_s: float = 120.0, poll_s: float = 2.0, worker: str | None = None,
                 workdir_root=None, task=None, patience_s: float = PATIENCE_S):
        self.db_url = db_url
        self.study_id = study_id
        self.bus = engine.bus if engine is not None else (bus or ev.EventBus())
        self._cache = cache
        self._engine = engine
        self._workdir_root = workdir_root
        self._task = task
        self.record = record
        self.resume = resume
        self.heartbeat_s, self.grace_s, self.poll_s = heartbeat_s, grace_s, poll_s
        self.patience_s = patience_s  # how long a database that went away is waited for (core.db.outage)
        self.worker = worker or worker_name()
        self._stop = threading.Event()
        self._stop_study = False
        self._handle = None
        self._current: list[int] = []
        self._run_ids: dict[int, tuple[str, str]] = {}  # slot -> (run id, label) of a trial this worker runs
        self._recorder = None
        self.kept: list[Path] = []  # runs kept in files while the database was unreachable
        self._lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.outcome: StudyOutcome | None = None

    # -- control ------------------------------------------------------------------------------
    def start(self) -> "StudyRunner":
        """Run :meth:`run` in a background thread; ``join()`` waits for it."""
        self.thread = threading.Thread(target=self.run, name=f"study-{self.study_id[:8]}", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float | None = None) -> StudyOutcome | None:
        if self.thread is not None:
            self.thread.join(timeout)
        return self.outcome

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def stop(self, study: bool = False) -> None:
        """Stop this worker (its current trial is cancelled); ``study=True`` stops the whole study too."""
        self._stop_study = self._stop_study or study
        self._stop.set()
        with self._lock:
            handle = self._handle
        if handle is not None:
            handle.cancel()

    def abandon(self, reason: str) -> list[int]:
        """Leave now, without waiting for the worker's thread (a second Ctrl-C); returns the trials cancelled.

        The trials this worker is running, and their runs, are recorded ``cancelled`` (so a resume runs them
        again), and the study's events say so, as if the thread had stopped them; the caller then exits.
        """
        self.stop()
        with self._lock:
            running = dict(self._run_ids)
        for slot, (run_id, label) in running.items():
            try:
                self.bus.publish(ev.RunCancelled(run_id=run_id, reason=reason))  # the recorder writes the run
                self.studies.end_trial(self.study_id, slot, "cancelled", note=reason)
            except Exception:  # noqa: BLE001 - the database went away too: the trial is reaped as interrupted later
                log.warning("study %s: could not record trial %d as cancelled", self.study_id[:8], slot + 1)
            self.bus.publish(TrialFinished(self.study_id, number=slot, label=label, run_id=run_id, status="cancelled",
                                           value=float("nan"), figures={}, note=reason))
        if self._recorder is not None:
            self._recorder.close()
        self.bus.publish(StudyEnded(self.study_id, status="running", worker=self.worker, trials_run=len(running)))
        return sorted(running)

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> StudyOutcome:
        from core.db import Recorder, StudyRepository, open_database

        db = open_database(self.db_url)
        self.studies = StudyRepository(db, patience_s=self.patience_s, stop=self._stop)
        self.studies.doing = f"working on study {self.study_id[:8]}"
        self._quick = StudyRepository(db)  # for what must not wait for a database that went away
        self.db = db
        recorder = self._recorder = Recorder(db, self.bus) if self.record else None
        beater = threading.Thread(target=self._beat, name=f"study-beat-{self.study_id[:8]}", daemon=True)
        outcome = StudyOutcome(self.study_id, "running")
        try:
            self.study_id = self.studies.resolve_id(self.study_id)
            outcome.study_id = self.study_id
            if self.resume:
                self.studies.reopen(self.study_id)
            record = self.studies.get_study(self.study_id)
            self.spec = StudySpec.from_dict(record.spec)
            self.objective = Objective.of(self.spec)
            self.engine = self._engine or self._default_engine()
            self._run_kwargs: dict | None = None  # prepared at the first trial this worker runs
            self.kind = trial_kind(self.spec, db.engine.url.render_as_string(hide_password=False), self.study_id)
            if getattr(self.engine, "cache", None) is not None and hasattr(self.kind, "trials"):  # keep shared prefixes
                self.engine.cache.expect(t.recipe for t in self.kind.trials if not t.problems)
            self.bus.publish(StudyStarted(self.study_id, name=record.name, kind=record.kind,
                                          planned=record.max_trials, worker=self.worker))
            beater.start()
            while not self._stop.is_set():
                self._reap()
                slot = self.studies.reclaim_slot(self.study_id, self.worker) if self.resume else None
                if slot is None:
                    slot = self.studies.claim_slot(self.study_id)
                    fresh = True
                else:
                    fresh = False
                if slot is None:
                    if self._others_running():
                        self._stop.wait(self.poll_s)
                        continue
                    break
                self._run_trial(slot, fresh)
                outcome.trials.append(slot)
            outcome.status = self._leave()
        except Exception as exc:
            if not (isinstance(exc, DatabaseUnreachable) or is_outage(exc)):
                raise
            # Said once, not as a traceback: the trial's run is kept in a file (self.kept), recorded (and its trial
            # ended) by the next command that opens the database; a trial left 'running' is reaped as interrupted.
            outcome.status, outcome.error = "unreachable", str(exc)
        finally:
            self._stop.set()
            if getattr(self, "kind", None) is not None:
                self.kind.close()
            if beater.is_alive():
                beater.join(5)
            if recorder is not None:
                recorder.close()
            db.close()
        outcome.kept = list(self.kept)
        self.bus.publish(StudyEnded(self.study_id, status=outcome.status, worker=self.worker,
                                    trials_run=len(outcome.trials)))
        self.outcome = outcome
        return outcome

    def _default_engine(self):
        from core.engine import Engine
        from core.engine.cache import StepCache

        cache = StepCache.for_database(self.db_url) if self._cache is DEFAULT else self._cache
        return Engine(bus=self.bus, workdir_root=self._workdir_root, cache=cache)

    def _shared_task(self):
        """The data every trial of this study uses, tokenized once per worker (trials vary steps, never data)."""
        if self._task is not None:
            return self._task
        from core.data.task import prepare_task
        from core.models.loading import load_tokenizer

        recipe = self.spec.recipe
        try:
            return prepare_task(recipe.data, load_tokenizer(recipe.model.source))
        except Exception:  # each run then fails on its own, with its own message
            log.warning("study %s: could not prepare the shared data", self.study_id[:8], exc_info=True)
            return None

    def _leave(self) -> str:
        status = self.studies.get_study(self.study_id).status
        if self._stop_study and status == "running":
            self.studies.set_status(self.study_id, "cancelled")
            return "cancelled"
        if status == "running" and not self._stop.is_set() and not self._others_running():
            trials = self.studies.get_study(self.study_id).trials
            ended = "failed" if trials and all(t.status == "skipped" for t in trials) else "finished"  # none ran
            self.studies.set_status(self.study_id, ended)
            return ended
        return status

    def _others_running(self) -> bool:
        """Whether some trial of the study is still going: running, or claimed by a worker not yet recorded.

        A worker records a trial right after claiming its slot; a slot claimed without a row for longer
        than ``grace_s`` belongs to a worker that died in between, and is not waited for. The wait is timed
        per gap (claimed slots, recorded rows): a gap seen earlier, and filled since, must not lend its age to
        a slot claimed just now (that made a worker finish the study under another worker's new trial).
        """
        record = self.studies.get_study(self.study_id)
        gap = (record.claimed, len(record.trials)) if len(record.trials) < record.claimed else None
        if gap != getattr(self, "_gap", None):
            self._gap, self._gap_since = gap, time.monotonic()
        if any(t.status == "running" for t in record.trials):
            return True
        return gap is not None and time.monotonic() - self._gap_since < self.grace_s

    def _reap(self) -> None:
        """Mark the trials of workers that went silent as interrupted (and tell Optuna they failed)."""
        for trial in self.studies.stale_trials(self.study_id, self.grace_s):
            with self._lock:
                mine = trial.number in self._current
            if mine:
                continue
            log.warning("study %s: trial %d of worker %s went silent; marking it interrupted",
                        self.study_id[:8], trial.number + 1, trial.worker)
            self.studies.interrupt_trial(self.study_id, trial.number)
            self.kind.interrupted(trial)
            self.bus.publish(TrialFinished(self.study_id, number=trial.number, label=trial.label,
                                           run_id=trial.run_id, status="interrupted", value=float("nan"),
                                           figures={}, note="its worker went silent"))

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._lock:
                numbers = list(self._current)
            try:
                self.studies.beat(self.study_id, numbers)
            except DatabaseUnreachable:  # said once by core.db.outage; the next beat tries again
                pass
            except Exception as exc:  # noqa: BLE001 - a heartbeat must never end the worker
                log.warning("study %s: heartbeat failed (%s: %s)", self.study_id[:8], type(exc).__name__, exc)

    # -- one trial -----------------------------------------------------------------------------------
    def _run_trial(self, slot: int, fresh: bool) -> None:
        from core.engine.runner import new_run_id

        try:
            prepared = self.kind.prepare(slot)
        except Exception as exc:  # Optuna's storage unreachable, a proposal its recipe refuses to build...
            log.exception("study %s: could not prepare trial %d", self.study_id[:8], slot + 1)
            prepared = Prepared(f"trial {slot + 1}", None, {}, (f"could not be prepared: {type(exc).__name__}: {exc}",))
            self._record_unrunnable(slot, prepared, fresh, status="failed")
            return
        if prepared.problems:
            self.kind.skipped(prepared)
            self._record_unrunnable(slot, prepared, fresh, status="skipped")
            return
        if fresh:
            self.studies.add_trial(self.study_id, slot, label=prepared.label, params=prepared.params,
                                   worker=self.worker, optuna_trial=prepared.optuna_trial)
        else:
            self.studies.restart_trial(self.study_id, slot, label=prepared.label, params=prepared.params,
                                       optuna_trial=prepared.optuna_trial)
        run_id = new_run_id()
        with self._lock:
            self._current.append(slot)
            self._run_ids[slot] = (run_id, prepared.label)
        artifacts: list[dict] = []  # kept for a run the database cannot record live
        started_at = time.time()

        def on_started(e: ev.RunStarted) -> None:
            try:  # on the engine's thread: never waits for a database that went away (linked again at the end)
                self._quick.link_run(self.study_id, slot, run_id)
            except DatabaseUnreachable:
                pass

        unsubscribe = [self.bus.subscribe(ev.RunStarted, on_started, filter=lambda e: e.run_id == run_id),
                       self.bus.subscribe(ev.Checkpoint, lambda e: artifacts.append(
                           {"kind": e.kind, "path": e.path, "step_index": e.index}),
                           filter=lambda e: e.run_id == run_id)]
        pruned = threading.Event()
        if self.kind.prunes:
            unwatch, pruned = watch_pruning(self.bus, self.kind, prepared, run_id, self._cancel_current)
            unsubscribe.append(unwatch)
        self.bus.publish(TrialStarted(self.study_id, number=slot, label=prepared.label, run_id=run_id,
                                      params=prepared.params))
        try:
            if self._run_kwargs is None:
                self._run_kwargs = {"task": self._shared_task()} if self._engine is None else {}
            handle = self.engine.start(prepared.recipe, run_id=run_id, **self._run_kwargs)
            with self._lock:
                self._handle = handle
            if self._stop.is_set():
                handle.cancel()
            while not handle.done:
                handle.join(0.2)
                if not self._stop.is_set() and self._study_stopped():
                    self._stop.set()
                    handle.cancel()
            result = handle.result
        finally:
            with self._lock:
                self._handle = None
            for unsub in unsubscribe:
                unsub()
        figures = dict(result.results or {}) if result is not None else {}
        status, note = trial_status(result, pruned.is_set())
        value = self.objective.score(figures) if status == "finished" else float("nan")
        trial = {"study_id": self.study_id, "number": slot, "status": status, "value": value, "note": note}
        try:
            if self.record and result is not None:  # the recorder lost it if the server went away meanwhile
                self.studies.call(pending.record, self.db,
                                  pending_data(self.db.url, prepared, result, artifacts, started_at))
            self.studies.link_run(self.study_id, slot, run_id)
            self.kind.finished(prepared, status, figures)
            self.studies.end_trial(self.study_id, slot, status, value=value, note=note)
        except Exception as exc:
            if result is None or not (isinstance(exc, DatabaseUnreachable) or is_outage(exc)):
                raise
            self.kept.append(keep(self.db.url, prepared, result, artifacts, started_at, trial))
            raise DatabaseUnreachable(f"{exc}; trial {slot + 1}'s run {result.status}, and its results are kept "
                                      f"in {self.kept[-1]}: the next bert-studio command that opens this database "
                                      f"records them") from None
        with self._lock:
            self._current.remove(slot)
            self._run_ids.pop(slot, None)
        self.bus.publish(TrialFinished(self.study_id, number=slot, label=prepared.label, run_id=run_id,
                                       status=status, value=value, figures=figures, note=note or ""))

    def _cancel_current(self) -> None:
        with self._lock:
            handle = self._handle
        if handle is not None:
            handle.cancel()

    def _record_unrunnable(self, slot: int, prepared: Prepared, fresh: bool, status: str) -> None:
        record_unrunnable(self.studies, self.bus, self.study_id, self.worker, slot, prepared, fresh, status)

    def _study_stopped(self) -> bool:
        """Whether someone stopped the whole study (checked while a trial runs, at most every ``poll_s``)."""
        now = time.monotonic()
        if now - getattr(self, "_last_status_check", 0.0) < self.poll_s or outage_of(self.db.url).down:
            return False  # (while the server is away the trial goes on; it is not waited for here)
        self._last_status_check = now
        try:
            return self._quick.get_study(self.study_id).status == "cancelled"
        except Exception:
            return False
