"""Nothing lost, through the command line as a user meets it (issue 22, part 1).

Each case asserts the exit code, one clear message, no traceback, and that the database's rows and the
files on disk are the same before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.test_cli import ROOT
from tests.core.test_cli_faults import recipe_file


def cli(*args, home, db=None, timeout=600):
    env = {**os.environ, "BERT_STUDIO_HOME": str(home)}
    env.pop("BERT_STUDIO_DB", None)
    if db is not None:
        env["BERT_STUDIO_DB"] = db
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes (SQLite's -wal/-shm files left out: reading moves them)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def rows(path: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as raw:
        found = [(t, *r) for t in ("runs", "artifacts", "results") for r in raw.execute(f"SELECT * FROM {t}")]
    raw.close()
    return sorted(found, key=repr)


def one_message(proc) -> str:
    """The command's single error line (and that nothing else, no traceback, came with it)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A studio home holding one finished run (database, checkpoint, step cache), recorded through the CLI."""
    tmp = tmp_path_factory.mktemp("studio")
    home = tmp / "home"
    ran = cli("run", recipe_file(tmp), "--quiet", home=home)
    assert ran.returncode == 0, ran.stderr
    run_id = ran.stdout.split()[1]
    return tmp, home, run_id


# -- 1. export --overwrite never deletes what it did not write ------------------------------------------------
@pytest.mark.parametrize("where", ["home", "parent of home", "user folder"])
def test_export_overwrite_refuses_a_folder_no_export_wrote(studio, where):
    tmp, home, run_id = studio
    user = tmp / "my-notes"
    user.mkdir(exist_ok=True)
    (user / "thesis.tex").write_text("months of work")
    target = {"home": home, "parent of home": tmp, "user folder": user}[where]
    files, recorded = snapshot(tmp), rows(home / "studio.db")
    assert any(name.startswith("home/runs/") for name in files)  # a checkpoint is there to lose
    out = cli("export", run_id, "--out", str(target), "--overwrite", home=home)
    assert out.returncode == 2, out.stdout + out.stderr
    message = one_message(out)
    if where == "user folder":
        assert "was not written by an export" in message and "Nothing was changed" in message
    else:
        assert "the studio's home folder" in message and "an export never replaces it" in message
    assert snapshot(tmp) == files and rows(home / "studio.db") == recorded


def test_export_overwrite_replaces_an_earlier_export_never_the_database_it_holds(studio):
    tmp, home, run_id = studio
    out_dir = tmp / "exports" / "model"
    first = cli("export", run_id, "--out", str(out_dir), home=home)
    assert first.returncode == 0, first.stderr
    again = cli("export", run_id, "--out", str(out_dir), "--overwrite", "--format", "onnx", home=home)
    assert again.returncode == 0, again.stderr
    assert (out_dir / "model.onnx").is_file() and not (out_dir / "model.safetensors").exists()
    # The user keeps a copy of the database inside the export folder and opens it: the folder, and every folder
    # above it, holds that database now, marker or not.
    with sqlite3.connect(home / "studio.db") as source, sqlite3.connect(out_dir / "copy.db") as copy:
        source.backup(copy)
    source.close()
    copy.close()
    url = f"sqlite:///{out_dir / 'copy.db'}"
    files, recorded = snapshot(tmp), rows(out_dir / "copy.db")
    for target in (out_dir, out_dir.parent):
        out = cli("--db", url, "export", run_id, "--out", str(target), "--overwrite", home=home)
        assert out.returncode == 2, out.stdout + out.stderr
        message = one_message(out)
        assert f"holds {out_dir / 'copy.db'}: the studio database this command opened" in message
        assert snapshot(tmp) == files and rows(out_dir / "copy.db") == recorded


# -- 3. a damaged database is never written; reading never creates one ---------------------------------------
def test_run_against_a_damaged_database_is_refused_before_writing_and_runs_still_lists_it(tmp_path):
    from tests.core.db.test_open import damaged_studio_database

    path = damaged_studio_database(tmp_path / "studio.db", run_id="abcdef12")
    url = f"sqlite:///{path}"
    before = path.read_bytes()
    out = cli("run", recipe_file(tmp_path), "--quiet", home=tmp_path / "home", db=url)
    assert out.returncode == 2, out.stdout + out.stderr
    message = one_message(out)
    assert f"The studio database {path} is damaged" in message and "Nothing was changed" in message
    assert path.read_bytes() == before and not (tmp_path / "home" / "runs").exists()
    listed = cli("runs", home=tmp_path / "home", db=url)  # what still reads is listed, read-only
    assert listed.returncode == 0 and "abcdef12" in listed.stdout and "Traceback" not in listed.stderr
    assert "is damaged" in listed.stderr and "nothing is written to it" in listed.stderr
    assert path.read_bytes() == before


@pytest.mark.parametrize("args, code, says", [
    (["runs"], 0, "no runs recorded yet: There is no studio database at"),
    (["runs", "--status", "finished"], 0, "no runs recorded yet: There is no studio database at"),
    (["show", "abcdef12"], 2, "error: no run 'abcdef12': There is no studio database at"),
    (["study", "list"], 2, "error: There is no studio database at"),
    (["study", "show", "abcdef12"], 2, "error: There is no studio database at"),
])
def test_a_command_that_only_reads_never_creates_a_database(tmp_path, args, code, says):
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / "missing_dir" / "x.db"
    out = cli(*args, "--db", f"sqlite:///{path}", home=home)
    assert out.returncode == code, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and says in out.stdout + out.stderr
    assert f"{path}; nothing was created" in out.stdout + out.stderr
    assert not path.parent.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["home"]


# -- 2. a run that ends while PostgreSQL is down keeps its results and records them once it is back ----------
class PrivateServer:
    """A PostgreSQL server of this test alone, so stopping it harms no other test."""

    def __init__(self, folder: Path):
        from tests import pg

        self.bindir = pg._bindir()
        if self.bindir is None or not (self.bindir / "pg_ctl").exists():
            pytest.skip(pg.NO_SERVER)
        self.folder, self.data = folder, folder / "data"
        if os.geteuid() == 0:
            import shutil

            shutil.chown(folder, "postgres", "postgres")
        self._as_user = pg._as_server_user
        self._ctl("initdb", "-D", self.data, "-A", "trust", "-U", "studio", "--no-sync")
        self.url = f"postgresql+psycopg://studio@/postgres?host={folder}&port={pg.PORT}"

    def _ctl(self, tool, *args):
        out = subprocess.run(self._as_user([str(self.bindir / tool), *map(str, args)]), capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr

    def start(self):
        from tests import pg

        options = f"-p {pg.PORT} -k {self.folder} -c listen_addresses='' -c fsync=off"
        self._ctl("pg_ctl", "-D", self.data, "-o", options, "-l", self.folder / "log", "-w", "start")

    def stop(self):
        self._ctl("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")


@pytest.fixture
def server(tmp_path):
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="studio-pg-down-"))  # a short path: the socket's name has a length limit
    srv = PrivateServer(folder)
    srv.start()
    try:
        yield srv
    finally:
        subprocess.run(srv._as_user([str(srv.bindir / "pg_ctl"), "-D", str(srv.data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=120)
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _pg_runs(url: str) -> list[tuple]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql("SELECT id, status FROM runs")]
    finally:
        engine.dispose()


def test_a_run_that_ends_while_postgresql_is_down_is_kept_and_recorded_once_it_is_back(tmp_path, server):
    import time

    home, control = tmp_path / "home", tmp_path / "control"
    control.write_text("pause")  # the run starts (and is recorded 'running'), then waits at its first batch
    env = {**os.environ, "BERT_STUDIO_HOME": str(home), "BERT_STUDIO_DB": server.url}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "run", recipe_file(tmp_path), "--quiet", "--control",
                             str(control)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _pg_runs(server.url):
                    break
            except Exception:  # noqa: BLE001 - the schema is not there yet
                pass
            time.sleep(0.5)
        [(run_id, status)] = _pg_runs(server.url)
        assert status == "running"
        server.stop()
        control.write_text("run")
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err, err
    [message] = [line for line in err.splitlines() if line.startswith("error:")]
    kept = home / "unrecorded" / f"{run_id}.json"
    assert f"its recipe and results are kept in {kept}" in message and "next bert-studio command" in message
    assert f"run {run_id[:8]} finished" in out and "accuracy" in out
    assert len([line for line in err.splitlines() if line.startswith("warning:")]) <= 1  # one line, not a flood
    saved = json.loads(kept.read_text())
    assert saved["status"] == "finished" and saved["results"]["accuracy"] >= 0

    server.start()
    listed = cli("runs", home=home, db=server.url)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert f"run {run_id[:8]} (finished) was recorded afterwards" in listed.stderr
    assert f"{run_id[:8]}  " in listed.stdout and "finished" in listed.stdout and "interrupted" not in listed.stdout
    assert _pg_runs(server.url) == [(run_id, "finished")] and not kept.exists()
    shown = cli("show", run_id, home=home, db=server.url)
    assert shown.returncode == 0 and "accuracy" in shown.stdout and "recorded afterwards" not in shown.stderr
    export = cli("export", run_id, "--out", str(tmp_path / "out"), home=home, db=server.url)
    assert export.returncode == 0, export.stderr  # its checkpoint was kept with it
