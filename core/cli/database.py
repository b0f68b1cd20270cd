"""Open the experiment database for a command, tidying runs a dead process left 'running'.

Every database a command opens is closed when the command ends (:func:`close_all`,
called by :func:`core.cli.main`), however it ends, so SQLite's write-ahead files
do not stay behind beside the database.

Opening also records the runs that ended while this database was unreachable
(:mod:`core.db.pending`), and says so; and it registers a SQLite file with
:func:`core.models.staging.protect`, so no export in this command replaces the
folder that holds it. A command that only reads (``for_reading``) never creates a
database, and a damaged one is only read.
"""

from __future__ import annotations

import logging
import sys

_open: list = []


def open_repository(url: str | None, for_reading: bool = False):
    from core.db import Repository, open_database
    from core.models.staging import protect

    db = open_database(url, for_reading=for_reading)
    _open.append(db)
    if db.path is not None:
        protect(db.path)
    repo = Repository(db)
    if db.damaged is not None:
        print(f"warning: the studio database {db.path} is damaged ({db.damaged}); it is only read, nothing is "
              f"written to it", file=sys.stderr)
        return db, repo
    record_pending_runs(db)
    repo.mark_interrupted_runs()
    return db, repo


def record_pending_runs(db, only: str | None = None) -> list:
    """Record the runs kept in files while ``db`` was unreachable, one line each on stderr."""
    from core.db.pending import import_pending

    done = import_pending(db, only=only)
    for item in done:
        print(f"run {item.run_id[:8]} ({item.status}) was recorded afterwards in {db.url}, without its live "
              f"metrics: the database could not record it while it ran (its file is now {item.path})",
              file=sys.stderr)
    return done


class _SayOutages(logging.Handler):
    """A database server that goes away or comes back (:mod:`core.db.outage`): one ``warning:`` line each."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"warning: {record.getMessage()}", file=sys.stderr, flush=True)


def say_database_outages() -> None:
    """Print :mod:`core.db.outage`'s two messages as the command's own warnings (installed once per process)."""
    log = logging.getLogger("core.db.outage")
    if not any(isinstance(h, _SayOutages) for h in log.handlers):
        log.addHandler(_SayOutages(logging.WARNING))
        log.propagate = False


def close_all() -> None:
    """Close every database the command opened; a signal arriving meanwhile is ignored (the command is ending)."""
    from core.cli.signals import ignoring

    with ignoring():
        while _open:
            try:
                _open.pop().close()
            except Exception:  # noqa: BLE001 - a connection that cannot close cleanly must not hide the command's outcome
                pass
