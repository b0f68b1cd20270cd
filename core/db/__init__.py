"""The experiment database: SQLAlchemy models, repository, recorder, Alembic migrations.

Importing ``core.db`` is cheap: SQLAlchemy and Alembic load on first use of a name below.

Public API (everything else, ORM rows included, stays inside the package)::

    from core.db import open_database, Repository, Recorder, DatabaseError

    db = open_database()                 # or open_database("sqlite:///runs.db") / any SQLAlchemy URL
    repo = Repository(db)
    repo.mark_interrupted_runs()         # call once on start (studio, CLI)
    with Recorder(db, engine.bus):       # records every run published on the bus
        engine.run(recipe)
    repo.list_runs(status="finished", search="minilm", limit=20)   # -> list[RunSummary], newest first
    run = repo.get_run("3f2a9c1e")       # full id or unambiguous prefix -> RunRecord
    repo.metric_series(run.id, "train/loss")  # -> list[MetricPoint]

``open_database(url=None, *, for_reading=False) -> Database``
    Opens and upgrades to the newest schema (default URL: ``core.env.default_database_url()``).
    SQLite files get WAL mode, foreign keys and a busy timeout. Raises :class:`DatabaseError`
    (a ``StudioError``) for a corrupt (``PRAGMA quick_check``), foreign or too-new database, before
    changing anything. ``for_reading`` (commands that only list and show): a missing file is
    :class:`DatabaseMissingError`, never created; a damaged one opens read-only (``Database.damaged``).
    ``Database``: ``.url`` (password hidden), ``.path`` (SQLite file or None), ``.revision()``,
    ``.close()``, usable as a context manager. An in-memory URL (``sqlite://``) shares one
    connection between threads: fine for tests, not for a studio and a CLI at once.

``Repository(db)``; run ids may be given as unambiguous prefixes everywhere:
    ``list_runs(status=None, search=None, limit=None) -> list[RunSummary]`` (status: str or several),
    ``get_run(run_id) -> RunRecord``, ``resolve_id(run_id) -> str``,
    ``metric_keys(run_id) -> list[str]``, ``metric_series(run_id, key) -> list[MetricPoint]``,
    ``results(run_id) -> dict[str, float]``, ``set_results(run_id, results, *, replace=False)``,
    ``add_artifact(run_id, kind, path, meta=None) -> ArtifactRecord``,
    ``artifacts(run_id, kind=None) -> list[ArtifactRecord]``, ``rename_run(run_id, name)``,
    ``delete_run(run_id)`` (cascades; files on disk are left alone), ``mark_interrupted_runs() -> int``.
    An unknown id raises :class:`RunNotFoundError` (a ``KeyError``); an ambiguous prefix
    :class:`AmbiguousRunIdError` (a ``RunNotFoundError``).

``Recorder(db, bus, flush_interval=0.5)``
    Writes runs as they go: run row and pending steps at RunStarted, steps at their
    boundaries, metrics buffered and written at least every ``flush_interval`` seconds and
    at every step boundary and terminal event, checkpoints as artifacts, the final figures
    (results table and ``RunSummary.figures``), the status and the error with its details.
    Thread-safe, never raises into the engine. ``flush()``, ``close()`` (flush + unsubscribe),
    context manager.

Runs that ended while their database was unreachable (:mod:`core.db.pending`): ``keep(...)`` writes
one to ``<studio home>/unrecorded/<run id>.json``; ``import_pending(db)`` records those meant for ``db``.

Records (:mod:`core.db.domain`, frozen dataclasses): ``RunSummary`` (id, name, status,
started_at, ended_at, model_source, data_source, device, error, figures; ``short_id``,
``duration``), ``RunRecord`` (a ``RunSummary`` plus recipe, results, steps, artifacts,
error_details), ``StepRecord``, ``ArtifactRecord``, ``MetricPoint`` (step, value, time,
step_index). Datetimes are aware UTC; NaN stands for a figure that could not be computed.
Run statuses: running, finished, failed, cancelled, interrupted.

``StudyRepository(db)`` (:mod:`core.db.studies`): studies (``studies`` table) and their trials
(``study_trials``, each linked to an ordinary run): ``create_study``, ``list_studies``, ``get_study``
(-> ``StudyRecord`` with ``trials``), ``claim_slot`` (the budget shared by every worker, atomic),
``add_trial``, ``link_run``, ``end_trial``, ``interrupt_trial``, ``set_status``, ``delete_study``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "open_database": "core.db.database",
    "Database": "core.db.database",
    "Repository": "core.db.repository",
    "Recorder": "core.db.recorder",
    "DatabaseError": "core.db.errors",
    "DatabaseMissingError": "core.db.errors",
    "RunNotFoundError": "core.db.errors",
    "AmbiguousRunIdError": "core.db.errors",
    "RunSummary": "core.db.domain",
    "RunRecord": "core.db.domain",
    "StepRecord": "core.db.domain",
    "ArtifactRecord": "core.db.domain",
    "MetricPoint": "core.db.domain",
    "StudyRepository": "core.db.studies",
    "StudyNotFoundError": "core.db.errors",
    "StudySummary": "core.db.domain",
    "StudyRecord": "core.db.domain",
    "StudyTrialRecord": "core.db.domain",
}

__all__ = [
    "AmbiguousRunIdError", "ArtifactRecord", "Database", "DatabaseError", "DatabaseMissingError", "MetricPoint",
    "Recorder",
    "Repository", "RunNotFoundError", "RunRecord", "RunSummary", "StepRecord", "StudyNotFoundError", "StudyRecord",
    "StudyRepository", "StudySummary", "StudyTrialRecord", "open_database",
]

if TYPE_CHECKING:
    from core.db.database import Database, open_database
    from core.db.domain import (ArtifactRecord, MetricPoint, RunRecord, RunSummary, StepRecord, StudyRecord,
                                StudySummary, StudyTrialRecord)
    from core.db.errors import (AmbiguousRunIdError, DatabaseError, DatabaseMissingError, RunNotFoundError,
                                StudyNotFoundError)
    from core.db.recorder import Recorder
    from core.db.repository import Repository
    from core.db.studies import StudyRepository


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'core.db' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
