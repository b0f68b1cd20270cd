"""Repository queries: listing, id prefixes, results, artifacts, rename, cascading delete."""

from __future__ import annotations

import math

import pytest

from core.db import AmbiguousRunIdError, ArtifactRecord, RunNotFoundError, RunRecord

from .conftest import record_run


def test_get_run_returns_plain_records(repo, db):
    record_run(db, "0123456789abcdef", name="first", losses=(1.0, 0.5), results={"accuracy": 0.75, "speedup": 2.0})
    run = repo.get_run("0123456789abcdef")
    assert isinstance(run, RunRecord)
    assert (run.name, run.status, run.model_source, run.device) == ("first", "finished", "tiny", "cpu")
    assert run.results == {"accuracy": 0.75, "speedup": 2.0} == run.figures
    assert run.recipe["steps"][0]["method"] == "finetune"
    assert [(s.index, s.method, s.status, s.summary) for s in run.steps] == [(0, "finetune", "finished", {"parameters": 100})]
    assert [a.kind for a in run.artifacts] == ["model"]
    assert run.duration == pytest.approx(11.0, abs=1e-3)
    assert run.started_at.tzinfo is not None
    assert [(p.step, p.value) for p in repo.metric_series(run.id, "train/loss")] == [(1, 1.0), (2, 0.5)]
    assert repo.metric_keys(run.id) == ["train/loss"]


def test_id_prefix_lookup(repo, db):
    record_run(db, "aaaa1111bbbb")
    record_run(db, "aaaa2222cccc")
    assert repo.get_run("aaaa1111").id == "aaaa1111bbbb"
    assert repo.resolve_id("aaaa2") == "aaaa2222cccc"
    assert repo.results("aaaa2")["accuracy"] == 0.8
    with pytest.raises(AmbiguousRunIdError) as info:
        repo.get_run("aaaa")
    assert set(info.value.candidates) == {"aaaa1111bbbb", "aaaa2222cccc"}
    with pytest.raises(KeyError, match="no run with id 'ffff'"):
        repo.get_run("ffff")
    with pytest.raises(RunNotFoundError):
        repo.metric_series("", "train/loss")
    # LIKE wildcards in a prefix are literal characters, not patterns.
    with pytest.raises(RunNotFoundError):
        repo.get_run("aaaa_")
    with pytest.raises(RunNotFoundError):
        repo.get_run("%")


def test_list_runs_filters_searches_and_limits(repo, db):
    record_run(db, "r-old", name="Prune heads 50%", started=1_000_000.0)
    record_run(db, "r-mid", name="distil", end="failed", started=2_000_000.0, model="/models/minilm")
    record_run(db, "r-new", name="quantize", end="cancelled", started=3_000_000.0)
    assert [r.id for r in repo.list_runs()] == ["r-new", "r-mid", "r-old"]
    assert [r.id for r in repo.list_runs(status="failed")] == ["r-mid"]
    assert [r.id for r in repo.list_runs(status=["failed", "finished"])] == ["r-mid", "r-old"]
    assert [r.id for r in repo.list_runs(search="PRUNE")] == ["r-old"]
    assert [r.id for r in repo.list_runs(search="minilm")] == ["r-mid"]
    assert [r.id for r in repo.list_runs(search="r-ne")] == ["r-new"]
    assert [r.id for r in repo.list_runs(search="50%")] == ["r-old"]
    assert repo.list_runs(search="_") == []  # literal underscore: no name has one
    assert [r.id for r in repo.list_runs(limit=2)] == ["r-new", "r-mid"]
    failed = repo.get_run("r-mid")
    assert (failed.error, failed.error_details) == ("boom", "Traceback...")


def test_set_results_merges_and_keeps_nan(repo, db):
    record_run(db, "run1", results={"accuracy": 0.8, "loss": 0.4})
    repo.set_results("run1", {"onnx_latency_ms": 3.5, "retained": math.nan, "format": "onnx"})
    results = repo.results("run1")
    assert results["accuracy"] == 0.8 and results["onnx_latency_ms"] == 3.5 and math.isnan(results["retained"])
    assert "format" not in results  # the table holds numbers; text lives in figures
    assert repo.get_run("run1").figures["format"] == "onnx"
    repo.set_results("run1", {"accuracy": 0.9}, replace=True)
    assert repo.results("run1") == {"accuracy": 0.9}
    assert repo.list_runs()[0].figures == {"accuracy": 0.9}


def test_artifacts_and_rename(repo, db):
    record_run(db, "run1")
    added = repo.add_artifact("run1", "export", "/tmp/model.onnx", {"format": "onnx", "bytes": 123})
    assert isinstance(added, ArtifactRecord) and added.meta == {"format": "onnx", "bytes": 123}
    assert [a.kind for a in repo.artifacts("run1")] == ["model", "export"]
    assert [a.path for a in repo.artifacts("run1", kind="export")] == ["/tmp/model.onnx"]
    repo.rename_run("run", "renamed")
    assert repo.get_run("run1").name == "renamed"
    with pytest.raises(KeyError):
        repo.add_artifact("nope", "export", "/x")


def test_delete_cascades_to_every_child_table(repo, db):
    record_run(db, "keep")
    record_run(db, "gone")
    repo.add_artifact("gone", "export", "/x")
    repo.delete_run("gone")
    with pytest.raises(KeyError):
        repo.get_run("gone")
    with db.engine.connect() as raw:
        for table in ("steps", "metrics", "results", "artifacts"):
            counts = dict(raw.exec_driver_sql(f"SELECT run_id, COUNT(*) FROM {table} GROUP BY run_id").fetchall())
            assert "gone" not in counts and counts.get("keep", 0) > 0, table
    assert [r.id for r in repo.list_runs()] == ["keep"]


def test_database_level_cascade_without_the_orm(db):
    """Rows deleted by plain SQL (another tool, a future migration) cascade too: foreign keys are on."""
    record_run(db, "gone")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM runs WHERE id = 'gone'")
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM metrics").scalar() == 0
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM steps").scalar() == 0
