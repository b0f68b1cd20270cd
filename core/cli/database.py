"""Open the experiment database for a command, tidying runs a dead process left 'running'.

Every database a command opens is closed when the command ends (:func:`close_all`,
called by :func:`core.cli.main`), however it ends, so SQLite's write-ahead files
do not stay behind beside the database.
"""

from __future__ import annotations

import signal
import threading

_open: list = []


def open_repository(url: str | None):
    from core.db import Repository, open_database

    db = open_database(url)
    _open.append(db)
    repo = Repository(db)
    repo.mark_interrupted_runs()
    return db, repo


def close_all() -> None:
    """Close every database the command opened; a Ctrl-C pressed meanwhile is ignored (the command is ending)."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while _open:
            try:
                _open.pop().close()
            except Exception:  # noqa: BLE001 - a connection that cannot close cleanly must not hide the command's outcome
                pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
