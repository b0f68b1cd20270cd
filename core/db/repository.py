"""Read and edit recorded runs; returns :mod:`core.db.domain` records, never rows.

Every method taking ``run_id`` also accepts an unambiguous prefix of it (the CLI
shows 8 characters) and raises :class:`RunNotFoundError` (a ``KeyError``) or
:class:`AmbiguousRunIdError` otherwise.
"""

from __future__ import annotations

import math
import os
import time
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from core.db import live
from core.db.database import Database
from core.db.domain import ArtifactRecord, MetricPoint, RunRecord, RunSummary, StepRecord
from core.db.errors import AmbiguousRunIdError, DatabaseError, RunNotFoundError
from core.db.schema import ArtifactRow, MetricRow, ResultRow, RunRow, StepRow
from core.naming import stack_name

# a run recorded from another machine is only called interrupted after this long without a metric
OTHER_HOST_SILENCE_S = 3600.0
INTERRUPTED_MESSAGE = ("The process recording this run stopped before the run ended (killed, crashed or the "
                       "machine went down); the metrics recorded until then are kept.")


class Repository:
    """Queries and edits on one :class:`~core.db.database.Database`; safe to share between threads."""

    def __init__(self, db: Database):
        self.db = db

    # -- runs ------------------------------------------------------------
    def list_runs(self, status: str | Iterable[str] | None = None, search: str | None = None,
                  limit: int | None = None) -> list[RunSummary]:
        """Runs, newest first; ``search`` matches name, id prefix, model or data source (any case)."""
        query = sa.select(RunRow).order_by(RunRow.started_at.desc(), RunRow.id)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            query = query.where(RunRow.status.in_(statuses))
        if search:
            pattern = f"%{_escape_like(search)}%"
            query = query.where(sa.or_(
                RunRow.name.ilike(pattern, escape="\\"),
                RunRow.id.startswith(search.strip(), autoescape=True),
                RunRow.model_source.ilike(pattern, escape="\\"),
                RunRow.data_source.ilike(pattern, escape="\\"),
            ))
        if limit is not None:
            query = query.limit(limit)
        with self.db.session() as s:
            return [_summary(row) for row in s.scalars(query)]

    def resolve_id(self, run_id: str) -> str:
        """The full id of the run that ``run_id`` (a full id or a prefix) names."""
        with self.db.session() as s:
            return _resolve(s, run_id)

    def get_run(self, run_id: str) -> RunRecord:
        with self.db.session() as s:
            full = _resolve(s, run_id)
            row = s.scalars(sa.select(RunRow).where(RunRow.id == full).options(
                selectinload(RunRow.steps), selectinload(RunRow.results), selectinload(RunRow.artifacts))).one()
            summary = _summary(row)
            return RunRecord(
                **{f: getattr(summary, f) for f in summary.__dataclass_fields__},
                recipe=dict(row.recipe or {}),
                results={r.key: _from_db(r.value) for r in row.results},
                steps=tuple(_step(st) for st in row.steps),
                artifacts=tuple(_artifact(a) for a in row.artifacts),
                error_details=row.error_details,
            )

    def rename_run(self, run_id: str, name: str) -> None:
        with self.db.session() as s:
            _run_row(s, run_id).name = name

    def delete_run(self, run_id: str) -> None:
        """Delete the run and (by cascade) its steps, metrics, results and artifact records.

        Files on disk (checkpoints, exports) are left alone: the caller decides about those.
        """
        with self.db.session() as s:
            row = _run_row(s, run_id)
            if live.is_recording(row.id):
                raise DatabaseError(f"run {row.id[:8]} is still being recorded; cancel it before deleting it")
            s.delete(row)

    def mark_interrupted_runs(self) -> int:
        """Mark 'running' runs whose recorder is gone as interrupted; returns how many.

        A run counts as alive when a recorder in this process records it, when
        the process that started it (same host) still runs, or, for a run another
        machine records (whose process cannot be checked from here), when it
        recorded something in the last :data:`OTHER_HOST_SILENCE_S` seconds.
        """
        here, me = live.this_host(), os.getpid()
        count = 0
        with self.db.session() as s:
            for row in s.scalars(sa.select(RunRow).where(RunRow.status == "running")):
                if live.is_recording(row.id):
                    continue
                if row.pid and row.pid != me and row.host == here and \
                        live.process_alive(row.pid, row.started_at.timestamp()):
                    continue
                last = s.scalar(sa.select(sa.func.max(MetricRow.time)).where(MetricRow.run_id == row.id))
                if row.host and row.host != here:
                    latest = max(last or 0.0, row.started_at.replace(tzinfo=row.started_at.tzinfo or timezone.utc).timestamp())
                    if time.time() - latest < OTHER_HOST_SILENCE_S:
                        continue  # another machine's run, heard from recently
                row.status = "interrupted"
                row.ended_at = datetime.fromtimestamp(last, timezone.utc) if last else row.started_at
                row.error = INTERRUPTED_MESSAGE
                for step in row.steps:
                    if step.status == "running":
                        step.status = "interrupted"
                count += 1
        return count

    # -- metrics and results -------------------------------------------------
    def metric_keys(self, run_id: str) -> list[str]:
        with self.db.session() as s:
            full = _resolve(s, run_id)
            return list(s.scalars(sa.select(MetricRow.key).where(MetricRow.run_id == full)
                                  .distinct().order_by(MetricRow.key)))

    def metric_series(self, run_id: str, key: str) -> list[MetricPoint]:
        """The samples of ``key`` in the order they were recorded (steps ascending within a training)."""
        with self.db.session() as s:
            full = _resolve(s, run_id)
            rows = s.execute(sa.select(MetricRow.step, MetricRow.value, MetricRow.time, MetricRow.step_index)
                             .where(MetricRow.run_id == full, MetricRow.key == key).order_by(MetricRow.id))
            return [MetricPoint(step, _from_db(value), time, index) for step, value, time, index in rows]

    def results(self, run_id: str) -> dict[str, float]:
        with self.db.session() as s:
            full = _resolve(s, run_id)
            rows = s.execute(sa.select(ResultRow.key, ResultRow.value).where(ResultRow.run_id == full))
            return {key: _from_db(value) for key, value in rows}

    def set_results(self, run_id: str, results: Mapping[str, Any], *, replace: bool = False) -> None:
        """Store final figures (merged into the existing ones unless ``replace``)."""
        with self.db.session() as s:
            write_results(s, _run_row(s, run_id), results, replace=replace)

    # -- artifacts -------------------------------------------------------------
    def add_artifact(self, run_id: str, kind: str, path: str, meta: Mapping[str, Any] | None = None) -> ArtifactRecord:
        with self.db.session() as s:
            row = ArtifactRow(run_id=_resolve(s, run_id), kind=kind, path=str(path), meta=dict(meta or {}),
                              created_at=datetime.now(timezone.utc))
            s.add(row)
            s.flush()
            return _artifact(row)

    def artifacts(self, run_id: str, kind: str | None = None) -> list[ArtifactRecord]:
        with self.db.session() as s:
            query = sa.select(ArtifactRow).where(ArtifactRow.run_id == _resolve(s, run_id)).order_by(ArtifactRow.id)
            if kind is not None:
                query = query.where(ArtifactRow.kind == kind)
            return [_artifact(row) for row in s.scalars(query)]


# -- shared with the recorder ---------------------------------------------------
def write_results(s: Session, run: RunRow, results: Mapping[str, Any], *, replace: bool) -> None:
    """Write figures to the results table (numbers only) and to the run's ``figures`` (everything)."""
    figures = {} if replace else dict(run.figures or {})
    figures.update(results)
    run.figures = figures
    if replace:
        s.execute(sa.delete(ResultRow).where(ResultRow.run_id == run.id))
    existing = {r.key: r for r in s.scalars(sa.select(ResultRow).where(ResultRow.run_id == run.id))}
    for key, value in results.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # kept in figures only: the table holds numbers
        if key in existing:
            existing[key].value = _to_db(value)
        else:
            s.add(ResultRow(run_id=run.id, key=key, value=_to_db(value)))


def _to_db(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _from_db(value: float | None) -> float:
    return math.nan if value is None else value


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _resolve(s: Session, run_id: str) -> str:
    run_id = (run_id or "").strip()
    if not run_id:
        raise RunNotFoundError("no run id given")
    if s.get(RunRow, run_id) is not None:
        return run_id
    matches = list(s.scalars(sa.select(RunRow.id).where(RunRow.id.startswith(run_id, autoescape=True))
                             .order_by(RunRow.started_at.desc()).limit(20)))
    if not matches:
        raise RunNotFoundError(f"no run with id {run_id!r} in the database")
    if len(matches) > 1:
        raise AmbiguousRunIdError(run_id, matches)
    return matches[0]


def _run_row(s: Session, run_id: str) -> RunRow:
    return s.get(RunRow, _resolve(s, run_id))


def _summary(row: RunRow) -> RunSummary:
    return RunSummary(id=row.id, name=row.name, status=row.status, started_at=row.started_at, ended_at=row.ended_at,
                      model_source=row.model_source, data_source=row.data_source, device=row.device,
                      error=row.error, figures={k: math.nan if v is None else v for k, v in (row.figures or {}).items()},
                      stack=stack_name((row.recipe or {}).get("steps") or []))


def _step(row: StepRow) -> StepRecord:
    return StepRecord(row.index, row.method, row.title, row.status, row.started_at, row.ended_at, dict(row.summary or {}))


def _artifact(row: ArtifactRow) -> ArtifactRecord:
    return ArtifactRecord(row.id, row.kind, row.path, dict(row.meta or {}), row.created_at)
