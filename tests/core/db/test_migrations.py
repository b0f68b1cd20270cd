"""The shipped Alembic migrations build exactly the ORM schema and report head."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import threading
import sys

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.db import open_database
from core.db.database import alembic_config, head_revision
from core.db.schema import Base

TABLES = {"runs", "steps", "metrics", "results", "artifacts", "studies", "study_trials"}


def test_fresh_file_gets_every_table_and_head_revision(tmp_path):
    path = tmp_path / "nested" / "folder" / "studio.db"  # missing folders are created
    db = open_database(f"sqlite:///{path}")
    try:
        assert path.is_file()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert TABLES | {"alembic_version"} == tables
        assert db.revision() == head_revision()
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
            indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("metrics")}
            assert "ix_metrics_run_key" in indexes
    finally:
        db.close()


def test_alembic_command_reports_head(db):
    cfg = alembic_config(db.url)
    cfg.stdout = io.StringIO()
    command.current(cfg)
    out = cfg.stdout.getvalue()
    assert f"{head_revision()} (head)" in out


def test_migrations_match_the_orm_schema(db):
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_downgrade_and_upgrade_round_trip(db):
    with db.engine.connect() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        assert TABLES <= set(sa.inspect(conn).get_table_names())
        conn.commit()


def test_sqlite_pragmas(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    with sqlite3.connect(db.path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_data_and_revision(db_url):
    from core.db import Repository

    from .conftest import record_run

    with open_database(db_url) as db:
        record_run(db, "r1")
    with open_database(db_url) as db:
        assert db.revision() == head_revision()
        assert [r.id for r in Repository(db).list_runs()] == ["r1"]


def test_importing_core_db_stays_lean():
    code = ("import sys, core.db; heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'alembic', 'torch')]; print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_public_name_resolves():
    import core.db

    assert set(core.db.__all__) == set(core.db._EXPORTS)
    for name in core.db.__all__:
        assert getattr(core.db, name).__name__ == name


def test_simultaneous_first_opens_migrate_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    barrier = threading.Barrier(4)
    outcomes: list[object] = []

    def opener() -> None:
        barrier.wait()
        try:
            with open_database(url) as db:
                outcomes.append(db.revision())
        except Exception as exc:  # collected: the assertion below shows it
            outcomes.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == [head_revision()] * 4
