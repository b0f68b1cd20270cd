"""What the studio reads of past runs, behind a small adapter over :mod:`core.db`.

Widgets see :class:`core.db.RunSummary` rows only (the CLI's rows too); :class:`DatabaseRunsStore` is the
one place that talks to the database package, so a missing or broken
database degrades to an explanatory message instead of a crash.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path
from typing import Any, Iterable

from core.db.domain import RunSummary


def format_time(value: Any) -> str:
    """A run's time as the runs table shows it: local time, to the second."""
    if isinstance(value, (int, float)):
        value = _dt.datetime.fromtimestamp(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone()  # stored in UTC; shown in local time
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def run_folders(record: Any) -> list[Path]:
    """The run's own folders: each artifact's nearest parent folder named after the run id (``runs/<id>``).

    Exports the user wrote elsewhere are not the run's own files and are never listed; nor is a checkpoint
    outside a folder named after the run (nothing else there is known to be the run's alone).
    """
    found: list[Path] = []
    for art in getattr(record, "artifacts", ()) or ():
        if art.kind == "export":
            continue
        path = Path(art.path)
        folder = next((p for p in (path, *path.parents) if p.name == record.id), None)
        if folder is not None and folder.is_dir() and folder not in found:
            found.append(folder)
    return found


def folder_bytes(folders: Iterable[Path]) -> int:
    """Bytes of the files under ``folders`` (links not followed)."""
    total = 0
    for folder in folders:
        for f in Path(folder).rglob("*"):
            try:
                if f.is_file() and not f.is_symlink():
                    total += f.stat().st_size
            except OSError:
                pass
    return total


def delete_folders(folders: Iterable[Path]) -> int:
    """Remove ``folders``; returns the bytes freed."""
    folders = list(folders)
    size = folder_bytes(folders)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return size - folder_bytes(f for f in folders if f.exists())


class RunsStore:
    """Interface the runs list reads from; the base class holds nothing."""

    error: str = ""

    def list_runs(self) -> list[RunSummary]:
        return []

    def get_run(self, run_id: str) -> Any:
        raise KeyError(run_id)

    def delete_run(self, run_id: str) -> None:
        raise KeyError(run_id)

    def rename_run(self, run_id: str, name: str) -> None:
        raise KeyError(run_id)

    def run_folders(self, run_id: str) -> list[Path]:
        """The folders on disk that hold only this run's files (its checkpoints), that exist now."""
        try:
            return run_folders(self.get_run(run_id))
        except Exception:  # a run gone meanwhile, or a database that cannot be read: nothing to offer
            return []

    def step_cache(self) -> Any:
        """The :class:`core.engine.cache.StepCache` beside this store's database, or None."""
        return None

    def metric_keys(self, run_id: str) -> list[str]:
        return []

    def metric_series(self, run_id: str, key: str) -> list:
        return []

    def repository(self) -> Any:
        """The :class:`core.db.Repository` behind the store (export needs it), or None."""
        return None

    def attach_recorder(self, bus) -> Any:
        """Start recording runs published on ``bus``; returns an object with ``close()`` or ``None``."""
        return None

    def close(self) -> None:
        pass


class DatabaseRunsStore(RunsStore):
    """Runs from the experiment database at ``url`` (``core.env.default_database_url()`` when ``None``)."""

    def __init__(self, url: str | None = None):
        from core.env import default_database_url

        self.url = url or default_database_url()
        self.error = ""
        self._db = None
        self._repo = None
        try:
            from core.db import Repository, open_database

            self._db = open_database(self.url)
            self._repo = Repository(self._db)
            self._repo.mark_interrupted_runs()  # runs left "running" by a crash are not running any more
        except Exception as exc:  # the studio still works without history
            if self._db is not None:
                self._db.close()  # opened, then marking interrupted runs failed: nothing stays connected
            self.error = f"The runs database at {self.url} could not be opened: {exc}"
            self._db = self._repo = None

    @property
    def available(self) -> bool:
        return self._repo is not None

    def list_runs(self) -> list[RunSummary]:
        if self._repo is None:
            return []
        return list(self._repo.list_runs())

    def get_run(self, run_id: str) -> Any:
        if self._repo is None:
            raise KeyError(run_id)
        return self._repo.get_run(run_id)

    def delete_run(self, run_id: str) -> None:
        if self._repo is not None:
            self._repo.delete_run(run_id)

    def rename_run(self, run_id: str, name: str) -> None:
        if self._repo is not None:
            self._repo.rename_run(run_id, name)

    def step_cache(self) -> Any:
        if self._repo is None:
            return None
        from core.engine.cache import StepCache

        return StepCache.for_database(self.url)

    def metric_keys(self, run_id: str) -> list[str]:
        return [] if self._repo is None else list(self._repo.metric_keys(run_id))

    def metric_series(self, run_id: str, key: str) -> list:
        return [] if self._repo is None else list(self._repo.metric_series(run_id, key))

    def repository(self) -> Any:
        return self._repo

    def attach_recorder(self, bus) -> Any:
        if self._db is None:
            return None
        from core.db import Recorder

        return Recorder(self._db, bus)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
