"""Nothing lost, through the command line as a user meets it (issue 22, part 1).

Each case asserts the exit code, one clear message, no traceback, and that the database's rows and the
files on disk are the same before and after.
"""

from __future__ import annotations

import hashlib
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
