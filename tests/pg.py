"""A throwaway PostgreSQL server for the test session (pytest plugin, loaded from tests/conftest.py).

The server is started with the machine's own ``initdb`` / ``pg_ctl`` in a temporary folder,
listens on a Unix socket in that folder only (no TCP), and is stopped at the end of the
session. ``initdb`` refuses to run as root, so as root both run as the ``postgres`` user.
Where no server binary exists the tests that need it are skipped, with the reason.

Fixtures: ``postgres_server`` (session: the server's base URL) and ``postgres_url``
(a fresh, empty database per test, dropped afterwards).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

PORT = 5432  # the socket lives in a private folder, so the usual number cannot clash with anything
NO_SERVER = "no PostgreSQL server binary (initdb, pg_ctl) on this machine; `apt-get install -y postgresql` brings one"


def _bindir() -> Path | None:
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").exists():
            return Path(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    found = shutil.which("initdb")
    return Path(os.path.realpath(found)).parent if found else None


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@pytest.fixture(scope="session")
def postgres_server():
    """Start the server once per session; yields ``postgresql+psycopg://studio@/postgres?host=DIR&port=PORT``."""
    bindir = _bindir()
    if bindir is None or not (bindir / "pg_ctl").exists():
        if os.environ.get("STUDIO_REQUIRE_POSTGRES"):  # .ci/run: these tests must run there
            pytest.fail(NO_SERVER)
        pytest.skip(NO_SERVER)
    folder = Path(tempfile.mkdtemp(prefix="studio-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    run = lambda *a: subprocess.run(_as_server_user([str(x) for x in a]), capture_output=True, text=True, timeout=120)  # noqa: E731
    out = run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "studio", "--no-sync")
    if out.returncode != 0:
        pytest.fail(f"initdb failed: {out.stdout}{out.stderr}")
    options = f"-p {PORT} -k {folder} -c listen_addresses='' -c fsync=off -c max_connections=200"
    out = run(bindir / "pg_ctl", "-D", data, "-o", options, "-l", folder / "log", "-w", "start")
    if out.returncode != 0:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        pytest.fail(f"pg_ctl start failed: {out.stdout}{out.stderr}{log}")
    try:
        yield f"postgresql+psycopg://studio@/postgres?host={folder}&port={PORT}"
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh empty database on the session's server; dropped (connections ended) after the test."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.replace("@/postgres?", f"@/{name}?")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path):
    """A fresh database URL, once for a SQLite file and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'studio.db'}"
    return request.getfixturevalue("postgres_url")


def rows(url: str, query: str) -> list[tuple]:
    """The rows ``query`` returns from the database at ``url`` (SQLite or PostgreSQL), read on a fresh engine."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()
