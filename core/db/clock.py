"""The database server's clock: the one clock every worker of a study shares.

Workers on several machines decide whether a trial is alive by comparing its last heartbeat with
"now". Each machine's own clock may be minutes off (no NTP, a suspended VM, a container with a
skewed clock), so a worker whose clock runs ahead would call every other worker's trial silent
and mark it interrupted. Stamps and deadlines are therefore taken from the server that stores
them (PostgreSQL's ``CURRENT_TIMESTAMP``; for a SQLite file, SQLite's own ``'now'``, read from
the clock of the one machine that holds the file).
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session


def server_now(s: Session) -> datetime:
    """The server's current time, aware UTC (PostgreSQL: the start of ``s``'s transaction)."""
    if s.get_bind().dialect.name == "sqlite":
        text = s.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    value = s.execute(sa.select(sa.func.current_timestamp())).scalar_one()
    if value.tzinfo is None:  # a server type without a zone: it speaks UTC, as the studio stores
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
