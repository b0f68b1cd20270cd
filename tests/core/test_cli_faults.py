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

    assert core.export.load_export is __import__("core.models.reload", fromlist=["x"]).load_model_folder
    with pytest.raises(ImportError):
        exec("from core.export import no_such_name")
    probe = "import sys, core.export; print('torch' in sys.modules, 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT).stdout.split() == \
        ["False", "False"]


# A folder whose weights must be opened to find the fault fails the run (1); one the checks before the run see
# (core.models.loading.check_model_source, which validate runs too) is refused before anything is recorded (2).
@pytest.mark.parametrize("make, message, code", [
    (lambda p: tiny_folder(p, intermediate_size=48),
     "do not fit its config.json: bert.encoder.layer.0.intermediate.dense.bias is [64] in the weights but [48]", 1),
    (lambda p: tiny_folder(p, tokenizer=False), "no tokenizer files in", 2),
    (lambda p: tiny_folder(p) and (p / "config.json").write_text("[1, 2, 3]") and p, "holds a JSON list", 2),
])
def test_a_bad_model_folder_fails_the_run_with_the_reason(tmp_path, db, make, message, code):
    folder = make(tmp_path / "model")
    out = cli("run", recipe_file(tmp_path, model=str(folder)), "--quiet", db=db)
    assert out.returncode == code
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
    # On a quiet machine the first press may already have stopped the run at its next batch before the second
    # arrives; either way the command ends with 130 and one clear line, and a late press changes nothing.
    assert ("cancelled (stopped at once)" in out or "cancelled" in out.splitlines()[0]) and took < 15
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
    assert "recorded afterwards" in err  # from its pending file, without the recorder (tests/core/test_cli_dataloss.py)
    kept = Path(err.split("its file is now ")[1].split(")")[0])
    saved = json.loads(kept.read_text())
    assert saved["status"] == "finished" and saved["results"]["accuracy"] >= 0 and saved["recipe"]["name"] == "faults"
    with open_database(db) as database:
        assert [r.status for r in Repository(database).list_runs()] == ["finished", "finished"]


def _validate(tmp_path, capsys, text: str | bytes, suffix=".yaml"):
    from core import cli as command

    path = tmp_path / f"recipe{suffix}"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = command.main(["validate", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("text, line", [
    ("data: {train_samples: .nan}", "data.train_samples: expected a whole number, got nan"),
    ("steps: [{method: finetune, settings: {epochs: .nan}}]", "step 1 (finetune), field 'epochs': expected a finite"),
    ("steps: [{method: finetune, settings: {learning_rate: .inf}}]", "field 'learning_rate': expected a finite"),
    ("data: {max_length: 100000}", "data.max_length: must be at most 512"),
    ("data: {max_length: -5}", "data.max_length: must be at least"),
    ("data: {train_samples: abc}", "data.train_samples: expected a whole number, got 'abc'"),
    ("evaluation: {latency_repeats: -3}", "evaluation.latency_repeats: must be at least 1"),
    ("evaluation: {split: bogus}", "evaluation.split: must be one of train, validation, test"),
    ("evaluation: {latency_profiles: [fast]}", "evaluation.latency_profiles: unknown profile 'fast'"),
    ("seed: abc", "seed: expected a whole number"),
    ("model: {source: 5}", "model.source: expected text, got 5"),
    ("name: [a, b]", "name: expected text"),
    ("steps: [{method: finetune, label: [a, b]}]", "step 1 (finetune), field 'label': expected text"),
    ("steps: [{method: finetune, settings: {epochs: 1, epochs: 3}}]", "epochs: given twice (again on line 1); keep one"),
    (b"name: caf\xe9\n", "is not UTF-8 text (byte 9 is 0xe9)"),
])
def test_validate_refuses_what_run_could_not_use_naming_the_field(tmp_path, capsys, text, line):
    code, out, err = _validate(tmp_path, capsys, text)
    assert code == 2 and line in err, err
    assert "valid" not in out and "Traceback" not in err


def test_validate_accepts_a_good_recipe(tmp_path, capsys):
    code, out, err = _validate(tmp_path, capsys, Path(recipe_file(tmp_path)).read_text())
    assert code == 0 and "valid" in out and not err


def _bomb(where: str) -> str:
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return "x-anchors:\n" + "\n".join("  " + level for level in levels) + "\n" + where + "\n"


def test_a_yaml_alias_bomb_is_refused_quickly_in_bounded_memory(tmp_path, db):
    import resource
    import time

    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb("name: *a8"))  # as the run's name it once passed and blew the database up to 113 MB
    limit = 3 << 30  # address space: the bomb once took 4.8 GB; the whole command needs far less

    def bounded():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "core.cli", "run", str(path), "--db", db], capture_output=True,
                         text=True, cwd=ROOT, timeout=120, preexec_fn=bounded)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "YAML aliases expand to more than" in out.stderr and len(out.stderr) < 1000
    assert time.monotonic() - started < 60
    assert not (tmp_path / "cli.db").exists()  # refused before the database is even opened


@pytest.mark.parametrize("where", ["steps:\n  - method: finetune\n    label: *a8",
                                   "steps:\n  - method: finetune\n    settings: {epochs: *a8}"])
def test_an_alias_bomb_in_a_step_is_refused_before_it_expands(tmp_path, db, capsys, where):
    import tracemalloc

    from core import cli as command

    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb(where))
    assert command.main(["run", str(path), "--db", db]) == 2  # once untraced: the command's imports are not the bomb
    capsys.readouterr()
    tracemalloc.start()
    try:
        code = command.main(["run", str(path), "--db", db])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2 and "YAML aliases expand to more than" in err and len(err) < 1000
    assert peak < 64 << 20  # the expanded bomb would be gigabytes
    assert not (tmp_path / "cli.db").exists()


def test_db_is_accepted_before_and_after_the_command(tmp_path, capsys):
    from core import cli as command

    before, after = tmp_path / "before.db", tmp_path / "after.db"
    assert command.main(["--db", f"sqlite:///{before}", "runs"]) == 0
    assert command.main(["runs", "--db", f"sqlite:///{after}"]) == 0
    assert command.main(["runs", "--status", "finished", "--db", f"sqlite:///{after}"]) == 0
    assert "no runs recorded yet" in capsys.readouterr().out
    assert not before.exists() and not after.exists()  # listing never creates a database
    run = command.main(["run", recipe_file(tmp_path), "--quiet", "--db", f"sqlite:///{after}"])
    assert run == 0 and not (tmp_path / "cli.db").exists()
    assert command.main(["show", "--db", f"sqlite:///{after}", "--json",
                         command_run_id(f"sqlite:///{after}")]) == 0
    assert '"name": "faults"' in capsys.readouterr().out


def command_run_id(url: str) -> str:
    from core.db import Repository, open_database

    with open_database(url) as database:
        return Repository(database).list_runs()[0].id


def test_another_programs_runs_table_is_refused_and_left_byte_for_byte(tmp_path, capsys):
    import sqlite3

    from core import cli as command

    path = tmp_path / "tracker.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, km REAL)")
        raw.execute("INSERT INTO runs VALUES (1, 5.2)")
    raw.close()
    before = path.read_bytes()
    for args in (["runs"], ["run", recipe_file(tmp_path)]):
        assert command.main([*args, "--db", f"sqlite:///{path}"]) == 2
        assert "does not belong to BERT Compression Studio" in capsys.readouterr().err
        assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "r.yaml", "tracker.db"]


def test_a_database_with_garbage_pages_lists_but_show_and_export_say_it_is_damaged(tmp_path, capsys):
    from core import cli as command
    from tests.core.db.test_open import damaged_studio_database

    path = damaged_studio_database(tmp_path / "studio.db", run_id="abcdef12")
    url = f"sqlite:///{path}"
    assert command.main(["runs", "--db", url]) == 0 and "abcdef12" in capsys.readouterr().out
    for args in (["show", "abcdef12"], ["export", "abcdef12", "--out", str(tmp_path / "out")]):
        assert command.main([*args, "--db", url]) == 2
        assert f"The studio database {path} is damaged" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system", "!!python/object/apply:subprocess.call",
                                 "!!python/object/new:os.system"])
def test_a_yaml_tag_that_would_run_code_is_refused_and_runs_nothing(tmp_path, capsys, tag):
    marker = tmp_path / "ran"
    code, out, err = _validate(tmp_path, capsys, f"name: {tag} [['touch', '{marker}']]\n")
    assert code == 2 and "not valid YAML" in err and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_text(""), "is empty"),
    (lambda p: p.write_bytes(bytes(range(256)) * 8), "binary file, not CSV text"),
    (lambda p: p.write_text("text,label\n" + "".join(f"{i},{i % 2}\n" for i in range(40))),
     "text column 'text' holds int64 values"),
    (lambda p: p.write_text("text,label\n" + "".join(f"review {i},{i % 2}\n" for i in range(20)) + '"never closed,1\n'
                            + "".join(f"review {i},{i % 2}\n" for i in range(20))),
     "quoted field that starts on line 22 is never closed"),
])
def test_a_bad_data_file_fails_the_run_saying_what_is_wrong(tmp_path, db, capsys, write, message):
    from core import cli as command

    data = tmp_path / "data.csv"
    write(data)
    assert command.main(["run", recipe_file(tmp_path, data=data), "--quiet", "--db", db]) == 1
    err = capsys.readouterr().err
    assert message in err and "An error occurred while generating" not in err


def test_runs_lists_speedups_with_their_interval_and_marks_noisy_ones(tmp_path, capsys):
    from core.cli import main
    from core.db import open_database
    from tests.core.db.conftest import record_run

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with open_database(url) as db:
        record_run(db, "steady", results={"accuracy": 0.8, "accuracy_low": 0.78, "accuracy_high": 0.82,
                                          "speedup": 2.0, "speedup_low": 1.95, "speedup_high": 2.05})
        record_run(db, "noisy", results={"accuracy": 0.8, "speedup": 2.0, "speedup_low": 1.2, "speedup_high": 3.0})
        record_run(db, "tinyone", results={"accuracy": 0.8, "speedup": float("nan"), "speed_note": "too small"})
    assert main(["runs", "--db", url]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "80.00 % (78.00\u201382.00)" in lines["steady"] and "2.00x (1.95\u20132.05)" in lines["steady"]
    assert "unreliable" not in lines["steady"]
    assert "2.00x (1.20\u20133.00) (unreliable)" in lines["noisy"]
    assert "too small to time" in lines["tinyone"]
