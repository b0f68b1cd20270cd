"""Opening the database again in a process must not blind that process's open connections (issue 26, part 1).

The studio keeps a connection open (its runs store, the Study view's reports) while study workers in other
processes write; it also opens the database again (a new study, a report). Reading the file's header with a
plain open()/close() dropped every POSIX lock of the process on the file: a worker then took itself for the
last connection, deleted the WAL, and the studio's open connection read stale data from then on.
"""

from __future__ import annotations

import subprocess
import sys
import time

import sqlalchemy as sa

from core.db import open_database


def _writer(path, rows: int, hold_s: float = 0.0) -> subprocess.Popen:
    """Another process that adds ``rows`` rows, then keeps its connection ``hold_s`` seconds (a busy worker)."""
    code = (f"import sqlite3, time\nc = sqlite3.connect({str(path)!r})\n"
            f"c.executemany('insert into probe values (?)', [(i,) for i in range({rows})])\nc.commit()\n"
            f"time.sleep({hold_s})\nc.close()\n")
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_connection_stays_current_after_the_database_is_opened_again(tmp_path):
    path = tmp_path / "studio.db"
    url = f"sqlite:///{path}"
    kept = open_database(url)  # the studio's long-lived connection
    try:
        with kept.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE probe (x INTEGER)")

        def count() -> int:
            with kept.engine.connect() as conn:
                return conn.execute(sa.text("SELECT count(*) FROM probe")).scalar()

        assert count() == 0
        open_database(url).close()  # opened again in this process (a new study, a report)
        assert _writer(path, 10).wait(60) == 0  # a worker that writes and leaves
        holding = _writer(path, 20, hold_s=4.0)  # a worker that writes and stays
        try:
            deadline = time.monotonic() + 30
            while count() < 30 and time.monotonic() < deadline and holding.poll() is None:
                time.sleep(0.1)
            assert count() == 30  # before the fix: 10, the rows of the worker that stays are never seen
        finally:
            holding.wait(60)
    finally:
        kept.close()
