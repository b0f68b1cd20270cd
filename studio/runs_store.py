"""What the studio reads of past runs, behind a small adapter over :mod:`core.db`.

Widgets see :class:`core.db.RunSummary` rows only (the CLI's rows too); :class:`DatabaseRunsStore` is the
one place that talks to the database package, so a missing or broken
database degrades to an explanatory message instead of a crash.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

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
