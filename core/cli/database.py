"""Open the experiment database for a command, tidying runs a dead process left 'running'.

Every database a command opens is closed when the command ends (:func:`close_all`,
called by :func:`core.cli.main`), however it ends, so SQLite's write-ahead files
do not stay behind beside the database.
"""

from __future__ import annotations

_open: list = []


def open_repository(url: str | None):
    from core.db import Repository, open_database

    db = open_database(url)
    _open.append(db)
    repo = Repository(db)
    repo.mark_interrupted_runs()
    return db, repo


def close_all() -> None:
    while _open:
        _open.pop().close()
