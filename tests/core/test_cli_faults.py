"""Hostile inputs through the command line: refused with what is wrong and where, never a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step
from tests.core.test_cli import ROOT


def cli(*args, db, umask=None):
    env = {**os.environ, "BERT_STUDIO_DB": db}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"


def small_csv(path, label=lambda i: i % 2):
    path.write_text("text,label\n" + "".join(f"a short review number {i},{label(i)}\n" for i in range(40)))
    return path


def recipe_file(tmp_path, model="tiny", data=None):
    recipe = Recipe(name="faults", model=ModelRef(model),
                    data=DataRef(source=str(data or small_csv(tmp_path / "d.csv")), max_length=16),
                    steps=[Step("finetune", {"max_steps": 2, "batch_size": 8})],
                    evaluation=EvaluationSettings(latency_repeats=1, latency_batch_size=4))
    return str(recipe.save(tmp_path / "r.yaml"))


def tiny_folder(folder, tokenizer=True, **config):
    from core.models.loading import load_model

    state = load_model("tiny", 2)
    state.model.save_pretrained(folder)
    if tokenizer:
        state.tokenizer.save_pretrained(folder)
    data = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**data, **config}))
    return folder


def test_boolean_labels_train_as_two_classes_and_the_export_names_them(tmp_path, db):
    data = small_csv(tmp_path / "bool.csv", label=lambda i: "true" if i % 2 else "false")
    run = cli("run", recipe_file(tmp_path, data=data), "--quiet", db=db)
    assert run.returncode == 0, run.stderr
    assert "accuracy             100.00 %" not in run.stdout
    run_id = cli("runs", db=db).stdout.splitlines()[2].split()[0]
    out = tmp_path / "export"
    exported = cli("export", run_id, "--out", str(out), db=db, umask=0o027)
    assert exported.returncode == 0, exported.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "false", "1": "true"} and config["label2id"] == {"false": 0, "true": 1}
    # the user's umask, not mkdtemp's 0700 and safetensors' 0600
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o640}

    from transformers import pipeline

    classify = pipeline("text-classification", model=str(out))
    assert classify("a short review")[0]["label"] in ("false", "true")


@pytest.mark.parametrize("make, message", [
    (lambda p: tiny_folder(p, intermediate_size=48),
     "do not fit its config.json: bert.encoder.layer.0.intermediate.dense.bias is [64] in the weights but [48]"),
    (lambda p: tiny_folder(p, tokenizer=False), "no tokenizer files in"),
    (lambda p: tiny_folder(p) and (p / "config.json").write_text("[1, 2, 3]") and p, "holds a JSON list"),
])
def test_a_bad_model_folder_fails_the_run_with_the_reason(tmp_path, db, make, message):
    folder = make(tmp_path / "model")
    out = cli("run", recipe_file(tmp_path, model=str(folder)), "--quiet", db=db)
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr


def test_a_ragged_csv_fails_the_run_with_its_line(tmp_path, db):
    data = small_csv(tmp_path / "ragged.csv")
    lines = data.read_text().splitlines()
    lines.insert(5, "a review, with an unquoted comma,1")
    data.write_text("\n".join(lines) + "\n")
    out = cli("run", recipe_file(tmp_path, data=data), "--quiet", db=db)
    assert out.returncode == 1
    assert "ragged.csv could not be read as CSV: line 6 has 3 fields where the header line has 2" in out.stderr
    assert "Traceback" not in out.stderr and "Failed to read file" not in out.stderr
