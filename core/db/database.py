"""Open (and migrate) the experiment database without ever harming the user's file.

Before anything is written, :func:`open_database` checks that a SQLite file
really is a SQLite database, that every page of it reads (``PRAGMA quick_check``),
that it belongs to the studio (or is empty) and that its schema is not newer than
this code; any failure is a :class:`DatabaseError` that names the file and says
nothing was changed. Opened ``for_reading`` (the commands that only list and
show), a missing file is never created, and a damaged one is opened read-only so
what still reads can be read, with nothing ever written to it.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.db.errors import DatabaseError, DatabaseMissingError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000  # a reader (the studio) and a writer (a CLI run) may share the file
OUR_TABLES = frozenset({"runs", "steps", "metrics", "results", "artifacts", "studies", "study_trials",
                        "alembic_version"})
_NOTHING_CHANGED = "Nothing was changed"


class Database:
    """An open, migrated database: an engine plus a session factory.

    ``url`` is the URL with any password hidden; ``path`` the SQLite file (None otherwise); ``damaged`` what
    SQLite's integrity check found wrong with a file opened ``for_reading`` (None when sound): such a database is
    open read-only, and nothing may be written to it.
    """

    def __init__(self, engine: Engine, url: URL, path: Path | None, damaged: str | None = None):
        self.engine = engine
        self.url = url.render_as_string(hide_password=True)
        self.path = path
        self.damaged = damaged
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        Raises:
            DatabaseError: the file turned out damaged where this session read it (a damaged database opened
                ``for_reading`` lists its runs but fails on the damaged pages), or this session wrote to a
                damaged database, which is open read-only.
        """
        try:
            with self._sessions() as session, session.begin():
                yield session
        except sa.exc.DatabaseError as exc:
            reason = str(getattr(exc, "orig", None) or exc)
            where = str(self.path) if self.path else self.url
            if self.damaged is not None and "readonly" in reason:
                raise DatabaseError(f"The studio database {where} is damaged ({self.damaged}), so it is only read: "
                                    f"nothing is written to it. {_NOTHING_CHANGED}.") from exc
            if not _is_damage(reason):
                raise
            raise DatabaseError(f"The studio database {where} is damaged ({reason}): part of it cannot be read. "
                                f"Nothing was changed; copy out what still reads, then move the file aside or choose "
                                f"another database.") from exc

    def revision(self) -> str | None:
        """The schema revision stored in the database (``HEAD_REVISION`` once opened)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"


def alembic_config(url: str | None = None):
    """An Alembic Config for the shipped migrations, built in code (no alembic.ini)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def open_database(url: str | None = None, *, for_reading: bool = False) -> Database:
    """Open the database at ``url`` (default: the studio's SQLite file), upgrading it to the newest schema.

    Any SQLAlchemy URL is accepted. SQLite files get WAL mode (readers never block
    the recording run), foreign keys and a busy timeout. ``for_reading``: a command
    that only reads; a missing SQLite file (or its folder) is refused instead of
    created, and a damaged file opens read-only (``Database.damaged`` says why).

    Raises:
        DatabaseError: the URL is invalid, the file is not a (studio) database or
            is damaged, or its schema is newer than this code. Nothing is changed then.
        DatabaseMissingError: ``for_reading`` and there is no file at the path (nothing is created).
    """
    from core.env import default_database_url

    text = url or default_database_url()
    try:
        parsed = make_url(text)
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(f"{text!r} is not a database URL ({exc}). {_NOTHING_CHANGED}.") from None
    path = _sqlite_path(parsed)
    where = str(path) if path else parsed.render_as_string(hide_password=True)
    damaged = None
    if path is not None:
        _check_sqlite_file(path, create=not for_reading)
        damaged = _integrity_problem(path)
        if damaged is not None and not for_reading:
            raise DatabaseError(f"The studio database {where} is damaged ({damaged}): part of it cannot be read, so "
                                f"nothing is written to it. {_NOTHING_CHANGED}; `bert-studio runs` still lists what "
                                f"reads; copy that out, then move the file aside or choose another database.")
    engine = _create_engine(parsed, path, read_only=damaged is not None)
    try:
        _validate_and_upgrade(engine, where, path is not None, write=damaged is None)
    except DatabaseError:
        engine.dispose()
        raise
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc)
        if _is_damage(reason):
            raise DatabaseError(f"The studio database {where} is damaged or is not a SQLite database ({reason}). "
                                f"{_NOTHING_CHANGED}; move the file aside or choose another database.") from None
        raise DatabaseError(f"Cannot open the studio database {where}: {reason}") from None
    return Database(engine, parsed, path, damaged)


def _integrity_problem(path: Path) -> str | None:
    """What ``PRAGMA quick_check`` finds wrong with the SQLite file at ``path`` (None: sound, empty or busy).

    Read through a read-only connection, so checking never writes (not even a rollback of a hot journal).
    """
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error:
        return None  # cannot even open it read-only: the ordinary open below says why
    try:
        found = [str(r[0]) for r in raw.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        return str(exc) if _is_damage(str(exc)) else None
    finally:
        raw.close()
    problems = [f for f in found if f != "ok"]
    return "; ".join(problems[:3]) if problems else None


def _is_damage(reason: str) -> bool:
    """Whether SQLite's message says the file itself is damaged (not locked, not a wrong query)."""
    return "not a database" in reason or "malformed" in reason


def _sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for memory databases, URI forms and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file:") or url.query.get("uri"):
        return None
    return Path(name).expanduser()


def _check_sqlite_file(path: Path, create: bool = True) -> None:
    """Refuse, read-only, anything at ``path`` that SQLite would misread or overwrite; unless ``create``, a missing file."""
    if path.is_dir():
        raise DatabaseError(f"The studio database path {path} is a folder, not a file. {_NOTHING_CHANGED}.")
    if not path.exists():
        if not create:
            raise DatabaseMissingError(f"There is no studio database at {path}; nothing was created there (a command "
                                       f"that records, such as `bert-studio run`, creates it). Check the path.")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"Cannot create the folder for the studio database {path}: {exc}") from None
        return
    # Asked of SQLite itself, read-only, never by open()/close() here: closing a plain descriptor on the file drops
    # every POSIX lock this process holds on it, its other connections' too; a process writing it then takes itself
    # for the last connection, checkpoints and deletes the WAL, and this process's open connections read stale data
    # (or "malformed") from then on. SQLite's own file layer keeps such a descriptor open while locks are held.
    try:
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            probe.execute("PRAGMA schema_version").fetchone()  # reads the header; an empty file is a valid database
        finally:
            probe.close()
        header_ok = True
    except sqlite3.DatabaseError as exc:
        if "unable to open" in str(exc):
            raise DatabaseError(f"Cannot read the studio database {path}: {exc}. {_NOTHING_CHANGED}.") from None
        header_ok = "not a database" not in str(exc)  # anything else (damage further in) is said when it is read
    if not header_ok:
        raise DatabaseError(f"{path} is not a SQLite database (or it is damaged), so it cannot be used as the "
                            f"studio database. {_NOTHING_CHANGED}; move the file aside or choose another database.")


def _create_engine(url: URL, path: Path | None, read_only: bool = False) -> Engine:
    kwargs: dict = {}
    if read_only and path is not None:
        # A damaged file: every connection opens it read-only, so nothing (not even a checkpoint) writes to it.
        uri = f"{path.resolve().as_uri()}?mode=ro"
        kwargs.update(creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
    if url.get_backend_name() == "sqlite" and path is None:
        # One shared connection, or each thread (the recording run!) would see its own empty memory database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    if url.get_backend_name() == "postgresql":
        # PostgreSQL's JSON refuses NaN (SQLite's text keeps it): a figure that could not be computed is null there,
        # read back as NaN by the repository.
        kwargs.update(json_serializer=_json_without_nan, pool_pre_ping=True)
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as exc:
        where = url.render_as_string(hide_password=True)
        raise DatabaseError(f"Cannot use the database URL {where}: {exc}. {_NOTHING_CHANGED}.") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _json_without_nan(value) -> str:
    import json
    import math

    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value))


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # None of these writes to the file, so they are safe before the file is validated.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across a process crash, cheaper commits
    cur.close()


def _validate_and_upgrade(engine: Engine, where: str, is_file: bool, write: bool = True) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        current = MigrationContext.configure(conn).get_current_revision()
        # Without a schema revision the database must be empty: the first migration writes the revision in the
        # same transaction as the tables, so tables without one (even ones named like ours) are someone else's.
        foreign = tables - {"alembic_version"}
        if current is None and foreign:
            listed = sorted(foreign - OUR_TABLES) + sorted(foreign & OUR_TABLES)
            raise DatabaseError(
                f"{where} is a database that does not belong to BERT Compression Studio (it holds the tables "
                f"{', '.join(listed[:6])} but no studio schema revision). {_NOTHING_CHANGED}; choose another database.")
        if current is not None and not _known_revision(script, current):
            raise DatabaseError(
                f"The studio database {where} was written by a newer version of BERT Compression Studio "
                f"(schema revision {current!r}; this version knows up to {head!r}). {_NOTHING_CHANGED}; "
                f"update the studio or choose another database.")
        if not write:
            if current != head:
                raise DatabaseError(f"The studio database {where} is damaged, and its schema is older than this version "
                                    f"(it needs an upgrade, which would write to it). {_NOTHING_CHANGED}; move the "
                                    f"file aside or choose another database.")
            return
        if is_file:
            _enter_wal(conn)
        if conn.dialect.name == "sqlite" and current != head:
            # Take the write lock before migrating, so that processes opening a new file at the same
            # moment migrate one after the other (the busy timeout makes the others wait).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            current = MigrationContext.configure(conn).get_current_revision()
        if current != head:
            log.info("upgrading the studio database %s from %s to %s", where, current, head)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        conn.commit()


def _enter_wal(conn) -> None:
    """Switch the file to WAL mode, waiting (up to the busy timeout) while another connection holds it.

    SQLite answers a journal-mode change with "database is locked" at once, without its busy handler,
    when another connection is reading the file at that moment (processes opening a new database together).
    """
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        if str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower() == "wal":
            return
        try:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # not allowed inside a transaction
            return
        except sa.exc.OperationalError as exc:
            if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                raise
            conn.rollback()
            time.sleep(0.02)


def _known_revision(script, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:  # alembic's ResolutionError subclasses it
        return False
