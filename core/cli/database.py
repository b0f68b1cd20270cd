"""Open the experiment database for a command, tidying runs a dead process left 'running'."""

from __future__ import annotations


def open_repository(url: str | None):
    from core.db import Repository, open_database

    db = open_database(url)
    repo = Repository(db)
    repo.mark_interrupted_runs()
    return db, repo
