"""Record engine runs into the database as they happen.

Events arrive on the engine's thread. The hot path (a :class:`~core.events.Metric`
per training batch) only appends to an in-memory buffer; a background thread
writes the buffer every ``flush_interval`` seconds, and the engine's thread
flushes it itself at step boundaries and at the end of the run. So a crash
loses at most the last half second of metrics, and training never waits for a
commit per metric. Nothing here ever raises into the engine: failures are logged.

A database server that goes away is said once (:mod:`core.db.outage`), not per event: while it is
unreachable the recorder tries again only after a pause that doubles up to 8 s (the engine's thread
never waits on a dead server per batch), keeps the metrics it could not write (up to
:data:`MAX_BUFFERED` rows) and writes them once the server answers again. What it could not record
of the run itself is recorded at the run's end by its caller (:mod:`core.db.pending`).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

import sqlalchemy as sa

from core import events as ev
from core.db import live
from core.db.database import Database
from core.db.outage import FIRST_WAIT_S, MAX_WAIT_S, is_outage, outage_of
from core.db.repository import write_results
from core.db.schema import ArtifactRow, MetricRow, RunRow, StepRow
from core.naming import run_name

log = logging.getLogger(__name__)

MAX_BUFFERED = 200_000  # metric rows kept while the database is unreachable (the oldest go first beyond)


class Recorder:
    """Subscribes to ``bus`` and writes every run published on it to ``db``.

    Use as a context manager or call :meth:`close`, which flushes and unsubscribes.
    A recorder attached after a run started ignores that run (its row is missing).
    """

    def __init__(self, db: Database, bus: ev.EventBus, flush_interval: float = 0.5):
        self.db = db
        self.flush_interval = flush_interval
        self._lock = threading.Lock()  # guards the buffer and the bookkeeping below
        self._write_lock = threading.Lock()  # one writer at a time keeps rows in event order
        self._buffer: list[dict[str, Any]] = []
        self._runs: set[str] = set()  # runs whose row exists and that have not ended
        # (run, step) -> what goes into the step's summary when it finishes: "masks" (kind -> 0/1 rows) and
        # "importance" (kind -> scores with their metric and scaling); only the latest of each kind is kept.
        self._pending: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.RunStarted: self._run_started,
            ev.StepStarted: self._step_started,
            ev.Metric: self._metric,
            ev.MaskUpdate: self._mask,
            ev.ImportanceUpdate: self._importance,
            ev.Checkpoint: self._checkpoint,
            ev.StepFinished: self._step_finished,
            ev.RunFinished: self._run_ended,
            ev.RunFailed: self._run_ended,
            ev.RunCancelled: self._run_ended,
        }
        self._outage = outage_of(db.url)
        self._retry_at = 0.0  # while the server is unreachable: no write before this monotonic time
        self._wait = FIRST_WAIT_S
        self._closed = False
        self._stop = threading.Event()
        self._unsubscribe = bus.subscribe(ev.Event, self._on_event)
        self._thread = threading.Thread(target=self._flush_loop, name="db-recorder", daemon=True)
        self._thread.start()

    # -- public ------------------------------------------------------------
    def flush(self) -> None:
        """Write the buffered metrics now (any thread)."""
        with self._write_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch or self._waiting():
                with self._lock:
                    self._buffer[:0] = batch
                return
            try:
                with self.db.session() as s:
                    s.execute(sa.insert(MetricRow), batch)
            except Exception as exc:
                if not self._unreachable(exc):
                    log.exception("could not record %d metric values", len(batch))
                    return
                with self._lock:  # kept for when the server is back
                    self._buffer[:0] = batch
                    del self._buffer[:max(0, len(self._buffer) - MAX_BUFFERED)]
                return
            self._reachable()

    def close(self) -> None:
        """Flush, unsubscribe and stop the background writer; safe to call twice.

        Runs still going are left 'running' and released, so a later
        ``mark_interrupted_runs`` can mark them.
        """
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        self._stop.set()
        self._thread.join()
        self.flush()
        with self._lock:
            leftover, self._runs = self._runs, set()
        for run_id in leftover:
            live.end(run_id)

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- dispatch ------------------------------------------------------------
    def _on_event(self, event: ev.Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is None:
            return  # Progress and LogMessage are for live views only
        if self._waiting() and handler not in (self._metric, self._mask, self._importance):
            return  # the server is away: not now (the run's end is recorded by its caller, core.db.pending)
        try:
            handler(event)
        except Exception as exc:  # the run must go on even when the database cannot follow
            if not self._unreachable(exc):
                log.exception("could not record %s for run %s", type(event).__name__, event.run_id)
            return
        if handler not in (self._metric, self._mask, self._importance):
            self._reachable()

    def _waiting(self) -> bool:
        return self._outage.down and time.monotonic() < self._retry_at

    def _unreachable(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the server is away; if so it is said once and the next try waits."""
        if not is_outage(exc):
            return False
        self._outage.failed(exc, "recording a run")
        self._retry_at = time.monotonic() + self._wait
        self._wait = min(self._wait * 2, MAX_WAIT_S)
        return True

    def _reachable(self) -> None:
        self._wait = FIRST_WAIT_S
        self._outage.succeeded()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def _known(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._runs

    # -- handlers --------------------------------------------------------------
    def _metric(self, e: ev.Metric) -> None:
        value = None if math.isnan(e.value) else e.value  # SQLite turns NaN into NULL anyway
        row = {"run_id": e.run_id, "key": e.key, "step": e.step, "value": value, "time": e.time, "step_index": e.index}
        with self._lock:
            if e.run_id in self._runs:
                self._buffer.append(row)

    def _keep(self, e: ev.Event, section: str, kind: str, value: Any) -> None:
        with self._lock:
            if e.run_id in self._runs:
                self._pending.setdefault((e.run_id, e.index), {}).setdefault(section, {})[kind] = value

    def _mask(self, e: ev.MaskUpdate) -> None:
        self._keep(e, "masks", e.kind, [list(r) for r in e.mask])

    def _importance(self, e: ev.ImportanceUpdate) -> None:
        # Beside the masks, never among them: runs recorded before the two events were split may hold a sensitivity
        # step's scaled scores under "masks"; a reader tells them apart by the step's method (analyze.*).
        self._keep(e, "importance", e.kind, {"scores": [list(r) for r in e.scores], "metric": e.metric,
                                             "scale": e.scale, "levels": None if e.levels is None else list(e.levels)})

    def _run_started(self, e: ev.RunStarted) -> None:
        recipe = e.recipe or {}
        methods = [s.get("method", "") if isinstance(s, dict) else str(s) for s in recipe.get("steps", [])]
        with self._write_lock, self.db.session() as s:
            if s.get(RunRow, e.run_id) is not None:
                log.warning("run %s is already in the database; not recording it again", e.run_id)
                return
            s.add(RunRow(
                id=e.run_id, name=run_name(recipe), recipe=recipe, status="running",
                started_at=_utc(e.time), model_source=_source(recipe, "model"), data_source=_source(recipe, "data"),
                device=e.device, figures={}, pid=os.getpid(), host=live.this_host(),
                steps=[StepRow(index=i, method=methods[i] if i < len(methods) else "", title=title, status="pending",
                               summary={}) for i, title in enumerate(e.step_titles)],
            ))
        with self._lock:
            self._runs.add(e.run_id)
        live.begin(e.run_id)

    def _step_started(self, e: ev.StepStarted) -> None:
        if not self._known(e.run_id):
            return
        self.flush()
        with self._write_lock, self.db.session() as s:
            step = _step_row(s, e.run_id, e.index, e.method, e.title)
            step.status, step.started_at = "running", _utc(e.time)

    def _step_finished(self, e: ev.StepFinished) -> None:
        if not self._known(e.run_id):
            return
        self.flush()
        with self._lock:
            pending = self._pending.pop((e.run_id, e.index), {})
        summary = {**e.summary, **pending}
        with self._write_lock, self.db.session() as s:
            step = _step_row(s, e.run_id, e.index, e.method, "")
            step.status, step.ended_at, step.summary = "finished", _utc(e.time), summary

    def _checkpoint(self, e: ev.Checkpoint) -> None:
        if not self._known(e.run_id):
            return
        with self._write_lock, self.db.session() as s:
            s.add(ArtifactRow(run_id=e.run_id, kind=e.kind, path=e.path, meta={"step_index": e.index},
                              created_at=_utc(e.time)))

    def _run_ended(self, e: ev.Event) -> None:
        if not self._known(e.run_id):
            return
        self.flush()
        status, step_status = {ev.RunFinished: ("finished", "finished"), ev.RunFailed: ("failed", "failed"),
                               ev.RunCancelled: ("cancelled", "cancelled")}[type(e)]
        try:
            with self._write_lock, self.db.session() as s:
                run = s.get(RunRow, e.run_id)
                if run is None:  # deleted while running
                    return
                run.status, run.ended_at = status, _utc(e.time)
                if isinstance(e, ev.RunFinished):
                    write_results(s, run, e.results, replace=True)
                elif isinstance(e, ev.RunFailed):
                    run.error, run.error_details = e.error, e.details or None
                for step in run.steps:
                    if step.status == "running":
                        step.status, step.ended_at = step_status, _utc(e.time)
        finally:
            with self._lock:
                self._runs.discard(e.run_id)
                for key in [k for k in self._pending if k[0] == e.run_id]:
                    del self._pending[key]
            live.end(e.run_id)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def _source(recipe: dict, section: str) -> str:
    value = recipe.get(section) or {}
    return str(value.get("source", "") if isinstance(value, dict) else value)


def _step_row(s, run_id: str, index: int, method: str, title: str) -> StepRow:
    step = s.get(StepRow, (run_id, index))
    if step is None:  # a step the RunStarted event did not announce
        step = StepRow(run_id=run_id, index=index, method=method, title=title, status="pending", summary={})
        s.add(step)
    return step
