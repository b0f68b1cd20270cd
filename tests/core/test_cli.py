"""The command line end to end: the real embedded model, a small slice, a temporary database."""

import os
import subprocess
import sys

import pytest

from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args, db):
    env = {**os.environ, "BERT_STUDIO_DB": db}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.mark.slow
def test_run_default_model_records_and_shows(tmp_path, db):
    recipe = Recipe(
        name="cli-e2e",
        model=ModelRef("default"),
        data=DataRef(train_samples=64, validation_samples=32, test_samples=64, max_length=48),
        steps=[Step("finetune", {"max_steps": 2, "batch_size": 16}), Step("prune.magnitude", {"sparsity": 0.3}), Step("quant.dynamic_int8")],
        evaluation=EvaluationSettings(latency_repeats=2, latency_batch_size=8),
    )
    path = recipe.save(tmp_path / "r.yaml")
    run = cli("run", str(path), "--quiet", db=db)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "finished" in run.stdout and "speedup" in run.stdout
    assert "[3/3] Dynamic int8" in run.stderr

    listing = cli("runs", db=db)
    assert listing.returncode == 0 and "cli-e2e" in listing.stdout and "finished" in listing.stdout
    run_id = listing.stdout.splitlines()[2].split()[0]

    shown = cli("show", run_id, db=db)
    assert shown.returncode == 0, shown.stderr
    assert "prune.magnitude" in shown.stdout and "sparsity: 0.3" in shown.stdout
    assert "Size vs baseline" in shown.stdout and "x smaller" in shown.stdout

    from core.db import Repository, open_database

    repo = Repository(open_database(db))
    record = repo.get_run(run_id)
    assert record.status == "finished"
    assert record.results["size_bytes"] < record.results["baseline_size_bytes"]
    assert [p.step for p in repo.metric_series(record.id, "train/loss")] == [1, 2]


def test_invalid_recipe_is_refused_with_field_names(tmp_path, db):
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - method: prune.magnitude\n    settings: {sparsity: 2}\n  - method: quant.dynamic_int8\n  - method: finetune\n")
    out = cli("run", str(path), db=db)
    assert out.returncode == 2
    assert "step 1 (prune.magnitude), field 'sparsity'" in out.stderr
    assert "step 3 (finetune): cannot train after step 2" in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_model_folder_is_refused_before_the_run(tmp_path, db):
    recipe = Recipe(model=ModelRef(str(tmp_path)), data=DataRef(train_samples=32, validation_samples=16, test_samples=16))
    path = recipe.save(tmp_path / "r.json")
    out = cli("run", str(path), "--quiet", db=db)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "is not a model folder: it has no config.json" in out.stderr
    assert not (tmp_path / "cli.db").exists()  # refused before the database opens, as validate refuses it


def test_unknown_run_and_corrupt_database(tmp_path):
    db_file = tmp_path / "junk.db"
    db_file.write_bytes(b"this is not a database" * 100)
    before = db_file.read_bytes()
    out = cli("runs", db=f"sqlite:///{db_file}")
    assert out.returncode == 2 and "Traceback" not in out.stderr and str(db_file) in out.stderr
    assert db_file.read_bytes() == before
    out = cli("show", "feedbeef", db=f"sqlite:///{tmp_path / 'empty.db'}")
    assert out.returncode == 2 and "feedbeef" in out.stderr
