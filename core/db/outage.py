"""A database server that goes away: one message, bounded reconnection with backoff, then a clean stop.

A PostgreSQL server restarted, a network gone for a minute: every write then fails with a
connection error. Without care each failure printed its own traceback (698 for one study
trial). Here:

- :func:`is_outage` tells a lost or refused connection from any other database error;
- :class:`Outage` says once that the server is unreachable (a WARNING on the ``core.db.outage``
  logger, one line, no traceback), stays silent while it remains so, and says once that it is back;
- :func:`retrying` runs one transaction again with backoff (0.5 s doubling to 8 s) for up to
  ``patience_s`` seconds, then raises :class:`DatabaseUnreachable`, a :class:`~core.errors.StudioError`
  whose message names the database, so the command stops saying where, not with a traceback.

Callers keep what is not recorded (:mod:`core.db.pending`); nothing here writes files.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, TypeVar

import sqlalchemy.exc as sa_exc

from core.db.errors import DatabaseError

log = logging.getLogger(__name__)
T = TypeVar("T")

PATIENCE_S = 60.0  # how long a study worker waits for its database to come back before it stops
FIRST_WAIT_S, MAX_WAIT_S = 0.5, 8.0


class DatabaseUnreachable(DatabaseError):
    """The database server stayed unreachable for longer than the caller's patience."""


_LOST = ("connection", "could not connect", "server closed", "timeout expired", "unable to open database file")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the server cannot be reached (as opposed to a refused or failed statement)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    if state:  # PostgreSQL: class 08 is "connection exception"; 57P01-03 a server shutting down or starting
        return state.startswith("08") or state in ("57P01", "57P02", "57P03")
    text = str(orig or exc).lower()  # a connection that could not be made has no SQLSTATE: its words say it
    return any(word in text for word in _LOST)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [""])[0][:200]


class Outage:
    """Whether a database is unreachable now, said once when it goes and once when it comes back."""

    def __init__(self, url: str):
        self.url = url
        self.since: float | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, what: str = "") -> None:
        with self._lock:
            if self.since is not None:
                return
            self.since = time.monotonic()
        log.warning("the database %s is unreachable (%s: %s)%s; the studio keeps trying, with growing pauses",
                    self.url, type(exc).__name__, first_line(exc), f" while {what}" if what else "")

    def succeeded(self) -> None:
        with self._lock:
            if self.since is None:
                return
            gone, self.since = time.monotonic() - self.since, None
        log.warning("the database %s is back after %.0f s", self.url, gone)


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


def outage_of(url: str) -> Outage:
    """The one :class:`Outage` of this process for the database at ``url`` (so it is said once, not per caller)."""
    with _outages_lock:
        return _outages.setdefault(url, Outage(url))


def retrying(call: Callable[[], T], url: str, *, what: str = "", patience_s: float = PATIENCE_S,
             stop: threading.Event | None = None, sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()`` (one whole transaction), again with backoff while the server is unreachable.

    Raises :class:`DatabaseUnreachable` after ``patience_s`` seconds of failures (or at once when ``stop``
    is set meanwhile); any other error is raised as it is.
    """
    outage = outage_of(url)
    began = time.monotonic()
    wait = FIRST_WAIT_S
    while True:
        try:
            value = call()
        except Exception as exc:
            if not is_outage(exc):
                raise
            waited = time.monotonic() - began
            if waited >= patience_s or (stop is not None and stop.is_set()):
                how_long = f"has been unreachable for {waited:.0f} s" if waited >= 1 else "is unreachable"
                raise DatabaseUnreachable(f"the database {url} {how_long} ({type(exc).__name__}: {first_line(exc)})"
                                          + (f" while {what}" if what else "")) from None
            outage.failed(exc, what)
            if stop is not None:
                stop.wait(min(wait, max(0.0, patience_s - waited)))
            else:
                sleep(min(wait, max(0.0, patience_s - waited)))
            wait = min(wait * 2, MAX_WAIT_S)
            continue
        outage.succeeded()
        return value
