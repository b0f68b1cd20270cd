"""Hostile inputs through the command line: refused with what is wrong and where, never a traceback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

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

    from core.export import load_export  # as the README says

    assert load_export(out).model.config.id2label == {0: "false", 1: "true"}


def test_the_export_package_names_its_api_and_stays_light():
    import core.export

    assert core.export.load_export is __import__("core.export.loader", fromlist=["x"]).load_export
    with pytest.raises(ImportError):
        exec("from core.export import no_such_name")
    probe = "import sys, core.export; print('torch' in sys.modules, 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT).stdout.split() == \
        ["False", "False"]


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


def _long_recipe(tmp_path):
    """A run that trains for many seconds unless cancelled."""
    recipe = Recipe(name="long", model=ModelRef("tiny"),
                    data=DataRef(source=str(small_csv(tmp_path / "d.csv")), max_length=16),
                    steps=[Step("finetune", {"epochs": 100, "batch_size": 2})],
                    evaluation=EvaluationSettings(latency_repeats=1, latency_batch_size=4))
    return str(recipe.save(tmp_path / "long.yaml"))


def _interrupt_while_training(tmp_path, db, presses):
    import signal
    import threading
    import time

    env = {**os.environ, "BERT_STUDIO_DB": db}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "run", _long_recipe(tmp_path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err: list[str] = []
    training = threading.Event()

    def read_stderr():
        for line in proc.stderr:
            err.append(line)
            if "[1/1] Fine-tune" in line:
                training.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert training.wait(120), "".join(err)
        time.sleep(0.5)
        sent = time.monotonic()
        for _ in range(presses):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.2)
        out = proc.stdout.read()
        proc.wait(60)
        took = time.monotonic() - sent
    finally:
        proc.kill()
        reader.join(10)
        proc.stdout.close()
        proc.stderr.close()
    return proc.returncode, out, "".join(err), took


def _only_run(db):
    listing = cli("runs", db=db).stdout.splitlines()
    assert len(listing) == 3, listing
    return listing[2].split()


def test_ctrl_c_cancels_the_run_records_it_and_exits_130(tmp_path, db):
    code, out, err, _ = _interrupt_while_training(tmp_path, db, presses=1)
    assert code == 130, out + err
    assert "Traceback" not in err and "terminate called" not in err
    assert err.count("cancelling: the run stops at its next batch") == 1
    run_id, _, status = _only_run(db)[:3]
    assert status == "cancelled" and f"run {run_id} cancelled" in out


def test_a_second_ctrl_c_stops_at_once_and_still_records_the_run(tmp_path, db):
    code, out, err, took = _interrupt_while_training(tmp_path, db, presses=2)
    assert code == 130, out + err
    assert "Traceback" not in err and "terminate called" not in err
    assert "cancelled (stopped at once)" in out and took < 15
    assert _only_run(db)[2] == "cancelled"


def test_a_recording_error_never_loses_a_finished_run(tmp_path, db, monkeypatch, capsys):
    from core import cli as command
    from core.db import Recorder, Repository, open_database

    original = Recorder._run_started
    calls = []

    def fails_once(self, event):  # as a value the database cannot store once did
        calls.append(event.run_id)
        if len(calls) == 1:
            raise TypeError("type 'list' is not supported")
        original(self, event)

    monkeypatch.setattr(Recorder, "_run_started", fails_once)
    assert command.main(["run", recipe_file(tmp_path), "--quiet", "--db", db]) == 0
    err = capsys.readouterr().err
    assert "recorded afterwards" in err
    with open_database(db) as database:
        [run] = Repository(database).list_runs()
        assert run.status == "finished" and run.id == calls[0] and run.figures["accuracy"] >= 0

    def always_fails(self, event):
        raise TypeError("type 'list' is not supported")

    monkeypatch.setattr(Recorder, "_run_started", always_fails)
    assert command.main(["run", recipe_file(tmp_path), "--quiet", "--db", db]) == 0
    err = capsys.readouterr().err
    assert "could not be recorded in the database" in err
    kept = Path(err.split("are kept in ")[1].split()[0])
    saved = json.loads(kept.read_text())
    assert saved["status"] == "finished" and saved["results"]["accuracy"] >= 0 and saved["recipe"]["name"] == "faults"
