"""Runs that ended while their database was unreachable: kept in a file, recorded once it is back.

A run whose database went away (a PostgreSQL server stopped, a network gone) still
finishes; :func:`keep` writes what the database would have held (recipe, status,
results, checkpoints) to ``<studio home>/unrecorded/<run id>.json``, and
:func:`import_pending`, called whenever a command opens that database again,
records it there (its live metrics are gone; nothing else is) and moves the file
to ``unrecorded/recorded/``. A study trial's run carries its trial (``study``: the study,
the trial's number, status, score and note), and recording it ends that trial too.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = "bert-studio-unrecorded-run"
VERSION = 1
_ENDED = ("finished", "failed", "cancelled")


@dataclass(frozen=True)
class Imported:
    """One run recorded from its file: ``path`` is where the file went afterwards."""

    run_id: str
    status: str
    path: Path


def folder() -> Path:
    from core.env import studio_home

    return studio_home() / "unrecorded"


def keep(database_url: str, run_id: str, status: str, *, recipe: dict[str, Any], results: dict[str, Any],
         error: str = "", device: str | None = None, step_titles: tuple[str, ...] = (),
         artifacts: list[dict[str, Any]] | None = None, started_at: float | None = None,
         study: dict[str, Any] | None = None) -> Path:
    """Write the run to its pending file (atomically) and return the file's path; raises ``OSError``.

    ``study``: the trial the run belongs to (``study_id``, ``number``, ``status``, ``value``, ``note``).
    """
    target = folder() / f"{run_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = pending_data(database_url, run_id, status, recipe=recipe, results=results, error=error, device=device,
                        step_titles=step_titles, artifacts=artifacts, started_at=started_at, study=study)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, target)
    return target


def pending_data(database_url: str, run_id: str, status: str, *, recipe: dict[str, Any], results: dict[str, Any],
                 error: str = "", device: str | None = None, step_titles: tuple[str, ...] = (),
                 artifacts: list[dict[str, Any]] | None = None, started_at: float | None = None,
                 study: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a pending file holds (see :func:`keep`)."""
    data = {"format": FORMAT, "version": VERSION, "database": database_url, "run_id": run_id, "status": status,
            "error": error, "device": device, "recipe": recipe, "results": results, "step_titles": list(step_titles),
            "artifacts": list(artifacts or []), "started_at": started_at or time.time(), "ended_at": time.time()}
    if study is not None:
        data["study"] = dict(study)
    return data


def record(db, data: dict[str, Any]) -> None:
    """Record ``data`` (from :func:`pending_data`) now, unless its run is already recorded so; raises on failure.

    How a run whose live recording was lost (the database went away meanwhile and came back) is recorded
    at its end without a file.
    """
    from core.db.schema import RunRow

    with db.session() as s:
        run = s.get(RunRow, data["run_id"])
        done = run is not None and run.status == data["status"] and "study" not in data
    if not done:
        _record(db, data)


def pending_for(database_url: str) -> list[Path]:
    """The pending files meant for the database at ``database_url`` (as ``Database.url`` writes it)."""
    where = folder()
    if not where.is_dir():
        return []
    found = []
    for path in sorted(where.glob("*.json")):
        data = _read(path)
        if data is not None and data.get("database") == database_url:
            found.append(path)
    return found


def import_pending(db, only: str | None = None) -> list[Imported]:
    """Record every pending run meant for ``db`` (or only the run ``only``); returns those recorded.

    A file that cannot be recorded now (the database failed again) stays where it is for the next try.
    """
    done = []
    for path in pending_for(db.url):
        data = _read(path)
        if data is None or (only is not None and data.get("run_id") != only):
            continue
        try:
            _record(db, data)
        except Exception:  # noqa: BLE001 - still unreachable, or refused: the file waits for the next command
            log.debug("could not record the pending run in %s", path, exc_info=True)
            continue
        moved = path.parent / "recorded" / path.name
        try:
            moved.parent.mkdir(exist_ok=True)
            os.replace(path, moved)
        except OSError:
            moved = path
        done.append(Imported(str(data["run_id"]), str(data["status"]), moved))
    return done


MAX_PENDING_BYTES = 512 << 20  # a pending run keeps its unwritten metrics (up to 200,000 rows)


def _read(path: Path) -> dict[str, Any] | None:
    from core.errors import RecipeError
    from core.recipe_text import load_document  # the one guarded loader: bounded size, UTF-8, no key twice

    try:
        data = load_document(path, "pending run file", "json", max_bytes=MAX_PENDING_BYTES)
    except RecipeError as exc:
        log.warning("ignoring the unreadable pending run file %s: %s", path, "; ".join(map(str, exc.problems)))
        return None
    ok = isinstance(data, dict) and data.get("format") == FORMAT and data.get("status") in _ENDED and \
        isinstance(data.get("run_id"), str) and isinstance(data.get("recipe"), dict)
    return data if ok else None


def _utc(timestamp: Any) -> datetime:
    return datetime.fromtimestamp(float(timestamp), timezone.utc)


def _record(db, data: dict[str, Any]) -> None:
    """Write the run as the recorder would have at its end (creating its row when RunStarted was lost too)."""
    import sqlalchemy as sa

    from core.db import live
    from core.db.recorder import _source
    from core.db.repository import write_results
    from core.db.schema import ArtifactRow, RunRow, StepRow
    from core.naming import run_name

    run_id, status, recipe = data["run_id"], data["status"], data["recipe"]
    ended = _utc(data["ended_at"])
    with db.session() as s:
        run = s.get(RunRow, run_id)
        if run is None:
            methods = [st.get("method", "") if isinstance(st, dict) else str(st) for st in recipe.get("steps", [])]
            titles = data.get("step_titles") or [str(m) for m in methods]
            run = RunRow(id=run_id, name=run_name(recipe), recipe=recipe, status="running",
                         started_at=_utc(data["started_at"]), model_source=_source(recipe, "model"),
                         data_source=_source(recipe, "data"), device=data.get("device") or "", figures={}, pid=None,
                         host=live.this_host(),
                         steps=[StepRow(index=i, method=methods[i] if i < len(methods) else "", title=str(t),
                                        status="pending", summary={}) for i, t in enumerate(titles)])
            s.add(run)
            s.flush()
        run.status, run.ended_at = status, ended
        run.error = data.get("error") or None if status == "failed" else None
        if status == "finished":
            write_results(s, run, data.get("results") or {}, replace=True)
        for step in run.steps:
            if step.status in ("running", "interrupted") or (status == "finished" and step.status == "pending"):
                step.status, step.ended_at = status, ended
        known = {(a.kind, a.path) for a in s.scalars(sa.select(ArtifactRow).where(ArtifactRow.run_id == run_id))}
        for a in data.get("artifacts") or []:
            if (a.get("kind"), a.get("path")) not in known:
                s.add(ArtifactRow(run_id=run_id, kind=str(a["kind"]), path=str(a["path"]),
                                  meta={"step_index": a.get("step_index")}, created_at=ended))
        if isinstance(data.get("study"), dict):
            s.flush()
            _end_trial(s, run_id, data["study"], ended)


def _end_trial(s, run_id: str, study: dict[str, Any], ended: datetime) -> None:
    """End the run's study trial as its worker would have, unless the trial moved on (run again) meanwhile."""
    import math

    import sqlalchemy as sa

    from core.db.schema import StudyTrialRow

    row = s.scalar(sa.select(StudyTrialRow).where(StudyTrialRow.study_id == str(study.get("study_id")),
                                                  StudyTrialRow.number == study.get("number")))
    if row is None or row.run_id not in (None, run_id) or row.status not in ("running", "interrupted"):
        return
    value = study.get("value")
    row.run_id, row.status, row.ended_at = run_id, str(study.get("status") or "failed"), ended
    row.value = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    if study.get("note"):
        row.note = str(study["note"])
