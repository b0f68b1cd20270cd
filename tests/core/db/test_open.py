"""open_database refuses what it must not touch, and accepts any SQLAlchemy URL."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from core.db import DatabaseError, Repository, open_database
from core.errors import StudioError

from .conftest import record_run


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_random_bytes_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "studio.db"
    original = os.urandom(8192)
    path.write_bytes(original)
    with pytest.raises(DatabaseError) as info:
        open_database(f"sqlite:///{path}")
    message = str(info.value)
    assert str(path) in message and "Nothing was changed" in message
    assert isinstance(info.value, StudioError)
    assert path.read_bytes() == original
    assert _files(tmp_path) == ["studio.db"]  # no -wal / -shm left beside it


def test_damaged_database_behind_a_valid_header_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "studio.db"
    original = b"SQLite format 3\x00" + os.urandom(8192)
    path.write_bytes(original)
    with pytest.raises(DatabaseError, match="damaged") as info:
        open_database(f"sqlite:///{path}")
    assert str(path) in str(info.value)
    assert path.read_bytes() == original


def test_database_from_a_newer_studio_is_refused(db_url, tmp_path):
    with open_database(db_url) as db:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_future'")
        where = str(db.path) if db.path else db.url
    before = (tmp_path / "studio.db").read_bytes() if db.path else None
    with pytest.raises(DatabaseError, match="newer version") as info:
        open_database(db_url)
    assert "9999_future" in str(info.value) and where in str(info.value)
    if db.path:
        assert db.path.read_bytes() == before


def test_another_applications_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="does not belong"):
        open_database(f"sqlite:///{path}")
    assert path.read_bytes() == before
    with sqlite3.connect(path) as raw:
        assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["invoices"]
    raw.close()


def test_folder_and_bad_urls_give_database_errors(tmp_path):
    with pytest.raises(DatabaseError, match="folder"):
        open_database(f"sqlite:///{tmp_path}")
    with pytest.raises(DatabaseError, match="not a database URL"):
        open_database("definitely not a url")
    with pytest.raises(DatabaseError):
        open_database("nosuchdialect://host/db")


def test_other_url_forms_are_passed_to_sqlalchemy(tmp_path):
    path = tmp_path / "explicit-driver.db"
    with open_database(f"sqlite+pysqlite:///{path}") as db:
        assert db.path == path
        record_run(db, "abc")
        assert Repository(db).get_run("abc").status == "finished"
    assert path.is_file()


def test_default_url_comes_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "from-env.db"
    monkeypatch.setenv("BERT_STUDIO_DB", f"sqlite:///{path}")
    with open_database() as db:
        assert db.path == path
    assert path.is_file()


def test_memory_database_is_shared_with_the_recording_thread():
    with open_database("sqlite://") as db:
        assert db.path is None
        worker = threading.Thread(target=record_run, args=(db, "in-memory"))
        worker.start()
        worker.join()
        assert Repository(db).get_run("in-memory").status == "finished"


def test_another_applications_runs_table_is_refused_and_its_file_left_as_it_was(tmp_path):
    path = tmp_path / "tracker.db"
    with sqlite3.connect(path) as raw:  # a table named like ours, in another program's file
        raw.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, km REAL)")
        raw.execute("INSERT INTO runs VALUES (1, 5.2)")
    raw.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="does not belong to BERT Compression Studio") as info:
        open_database(f"sqlite:///{path}")
    assert "runs" in str(info.value) and "Nothing was changed" in str(info.value)
    assert path.read_bytes() == before  # not switched to WAL: the header's bytes 18-19 stay 1, 1
    assert before[18:20] == b"\x01\x01"
    assert _files(tmp_path) == ["tracker.db"]


def _dbstat_pages(path, table):
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = [r[0] for r in raw.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
        size = raw.execute("PRAGMA page_size").fetchone()[0]
    raw.close()
    return pages, size


def damaged_studio_database(path, run_id="abc"):
    """A studio database with one recorded run whose results page is overwritten with garbage."""
    with open_database(f"sqlite:///{path}") as db:
        record_run(db, run_id)
    pages, size = _dbstat_pages(path, "results")
    data = bytearray(path.read_bytes())
    for page in pages:
        data[(page - 1) * size:page * size] = bytes((i * 37 + 11) % 256 for i in range(size))
    path.write_bytes(bytes(data))
    return path


def test_garbage_pages_in_the_middle_list_but_reading_them_is_a_clear_error(tmp_path):
    path = damaged_studio_database(tmp_path / "studio.db")
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="is damaged"):  # one that writes never gets it (PRAGMA quick_check)
        open_database(f"sqlite:///{path}")
    with open_database(f"sqlite:///{path}", for_reading=True) as db:
        assert "malformed" in db.damaged or "corrupt" in db.damaged
        repo = Repository(db)
        assert [r.id for r in repo.list_runs()] == ["abc"]  # the sound pages still read
        with pytest.raises(DatabaseError, match="is damaged") as info:
            repo.get_run("abc")
        assert str(path) in str(info.value) and "malformed" in str(info.value)
        with pytest.raises(DatabaseError):  # opened read-only: nothing can be written to it
            repo.rename_run("abc", "renamed")
    assert path.read_bytes() == before
