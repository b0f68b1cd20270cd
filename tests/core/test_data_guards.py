"""Data that would silently give a wrong result is refused, or what was done to it is said (issue 22, part 2).

Each case is tried as a user meets it, through ``bert-studio validate`` / ``run`` (exit code, one message, no
traceback), and on the one loading path every command shares (:func:`core.data.sources.read_table`,
:func:`core.data.task.read_splits`, :func:`core.models.loading.check_model_source`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.data.diagnose import DataNote, csv_records
from core.data.sources import read_table
from core.data.task import prepare_task, read_splits
from core.errors import DataLoadError, ModelLoadError
from core.models.loading import check_model_source, load_model, load_tokenizer
from core.recipe import DataRef, ModelRef, Recipe, Step

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORDS = "good bad fine awful great poor nice dull".split()


def sentence(i: int) -> str:
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(5)) + f" {i}"


def csv_lines(n: int = 60) -> list[str]:
    return ["text,label"] + [f"{sentence(i)},{i % 2}" for i in range(n)]


def write(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(*args, db):
    env = {**os.environ, "BERT_STUDIO_DB": db}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600)


def recipe_file(tmp_path, data: str, model: str = "tiny", name: str = "guards"):
    recipe = Recipe(name=name, model=ModelRef(model), data=DataRef(source=data, max_length=32),
                    steps=[Step("finetune", {"max_steps": 1, "batch_size": 8})])
    return str(recipe.save(tmp_path / f"{name}.yaml"))


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'guards.db'}"


def assert_refused(out, *parts: str) -> None:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.count("error: ") == 1, out.stderr
    for part in parts:
        assert part in out.stderr, out.stderr


# -- 1. an unterminated or stray CSV quote ----------------------------------------------------------------------

def stray_quote(tmp_path):
    """Row 6 opens a quote that a word on line 10 closes: pandas merges lines 7 to 10 into one text."""
    lines = csv_lines()
    lines[6] = '"' + lines[6]
    words = lines[9].split(" ", 1)
    lines[9] = words[0] + '" ' + words[1]
    return write(tmp_path / "stray.csv", lines)


def test_a_stray_quote_that_merges_rows_is_refused_with_its_lines(tmp_path):
    path = stray_quote(tmp_path)
    with pytest.raises(DataLoadError) as info:
        read_table(str(path))
    message = str(info.value)
    assert message.startswith("stray.csv could not be read as CSV: lines 7 to 10:"), message
    assert "a quote is missing or stray" in message


def test_a_quote_never_closed_is_refused_with_its_line(tmp_path):
    lines = csv_lines()
    lines[6] = '"' + lines[6]
    with pytest.raises(DataLoadError, match=r'starts on line 7 is never closed \(a " is missing\)'):
        read_table(str(write(tmp_path / "open.csv", lines)))


def test_a_quoted_text_spanning_lines_is_read_and_said(tmp_path):
    lines = csv_lines()
    lines[6] = '"' + lines[6]
    text, label = lines[8].rsplit(",", 1)
    lines[8] = f'{text}",{label}'  # legal CSV: one text from line 7 to line 9 (or a quote missing at line 7)
    table = read_table(str(write(tmp_path / "span.csv", lines)))
    assert len(table.data) == 58
    [note] = table.notes
    assert note.kind == "merged" and note.rows == 1
    assert "from line 7 to line 9" in note.message and "rows were merged" in note.message


def test_a_good_csv_is_not_parsed_a_second_time(tmp_path, monkeypatch):
    import core.data.diagnose as diagnose

    path = write(tmp_path / "good.csv", csv_lines() + [""])  # a trailing blank line is not a row either

    def no_parse(*_a, **_k):
        raise AssertionError("a CSV whose rows are one line each was parsed again")

    monkeypatch.setattr(diagnose.csv, "reader", no_parse)
    assert csv_records(path, 60) == (None, None)


# -- 2. rows with blank labels ------------------------------------------------------------------------------------

def blank_labels(tmp_path):
    lines = ["text,label"] + [f"{sentence(i)},{(i // 2) % 2 if i % 2 == 0 else ''}" for i in range(60)]
    lines[3] = "  ,0"  # and one row without a text
    return write(tmp_path / "blank.csv", lines)


def test_rows_dropped_for_a_blank_label_or_text_are_counted_and_named(tmp_path):
    splits = read_splits(DataRef(source=str(blank_labels(tmp_path))))
    assert sum(len(p) for p in splits.parts.values()) == 29
    [note] = splits.notes
    assert note == DataNote("dropped", 31, note.message)
    assert note.message.startswith("blank.csv: 31 of 60 rows dropped, 30 with no label (column 'label'): "
                                   "rows 2, 4, 6, 8, 10, ...; 1 with no text (column 'text'): row 3")


def test_the_task_carries_the_notes_every_command_reports(tmp_path):
    task = prepare_task(DataRef(source=str(blank_labels(tmp_path)), max_length=16), load_tokenizer("tiny"))
    assert [n.kind for n in task.notes] == ["dropped"]


def test_a_file_with_every_row_usable_has_no_note(tmp_path):
    assert read_splits(DataRef(source=str(write(tmp_path / "good.csv", csv_lines())))).notes == ()


def test_the_data_check_of_a_saved_dataset_names_the_split(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict({"text": [sentence(i) for i in range(40)],
                                     "label": [None if i == 5 else i % 2 for i in range(40)]})
    datasets.DatasetDict({"train": ds, "test": ds.select(range(10))}).save_to_disk(str(tmp_path / "saved"))
    notes = [n.message for n in read_splits(DataRef(source=str(tmp_path / "saved"))).notes]
    assert notes == ["saved: 1 of 40 rows of the 'train' split dropped, 1 with no label (column 'label'): row 6 "
                     "(data rows counted from 1, a header line not counted)",
                     "saved: 1 of 10 rows of the 'test' split dropped, 1 with no label (column 'label'): row 6 "
                     "(data rows counted from 1, a header line not counted)"]


# -- 4. JSON Lines labels mixing 1, "1" and 1.0 --------------------------------------------------------------------

def mixed_labels(tmp_path):
    path = tmp_path / "mixed.jsonl"
    values = [lambda i: i % 2, lambda i: str(i % 2), lambda i: float(i % 2)]
    path.write_text("\n".join(json.dumps({"text": sentence(i), "label": values[i % 3](i)}) for i in range(60)))
    return path


def test_labels_mixing_numbers_and_text_are_one_class_each_and_said(tmp_path):
    splits = read_splits(DataRef(source=str(mixed_labels(tmp_path))))
    assert splits.label_names == ["0", "1"]
    assert sum(len(p) for p in splits.parts.values()) == 60
    [note] = splits.notes
    assert note.kind == "normalised" and note.rows == 60
    assert ("column 'label' mixes JSON value types (a whole number on line 1, text on line 2, a decimal number "
            "on line 3)") in note.message
    ones = [row["label"] for part in splits.parts.values() for row in part if row["text"].endswith(" 1")]
    assert ones == [1]  # line 2's "1" is class '1', like 1 and 1.0


# -- 3. a tokenizer whose ids exceed the model's embedding ---------------------------------------------------------

@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A BERT whose embedding has 1,000 rows beside the default 30,522-token tokenizer, and a GPT-2 folder."""
    from transformers import BertForSequenceClassification, GPT2Config, GPT2Model

    from core.models.loading import tiny_config

    root = tmp_path_factory.mktemp("models")
    tokenizer = load_tokenizer("tiny")
    BertForSequenceClassification(tiny_config(vocab_size=1000)).save_pretrained(root / "small-vocab")
    tokenizer.save_pretrained(root / "small-vocab")
    GPT2Model(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=30522)).save_pretrained(root / "gpt2")
    tokenizer.save_pretrained(root / "gpt2")
    return {"small-vocab": str(root / "small-vocab"), "gpt2": str(root / "gpt2")}


def test_a_tokenizer_larger_than_the_embedding_is_refused_before_loading_weights(folders):
    with pytest.raises(ModelLoadError) as info:
        check_model_source(folders["small-vocab"])
    assert "has 30,522 tokens (ids up to 30,521) but the model's word embedding has 1,000 rows" in str(info.value)


def test_loading_such_a_model_is_refused_too(folders):
    with pytest.raises(ModelLoadError, match="has 30,522 tokens .* has 1,000 rows"):
        load_model(folders["small-vocab"], num_labels=2)


def test_a_non_bert_family_folder_is_refused_with_its_family(folders):
    with pytest.raises(ModelLoadError, match="holds a 'gpt2' model; the studio works on BERT-family encoders"):
        check_model_source(folders["gpt2"])


# -- through the command line --------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["validate", "run"])
def test_validate_and_run_refuse_the_same_model_folders(tmp_path, db, folders, command):
    """``validate`` applies run's checks (family, tokenizer against embedding); run refuses before recording."""
    data = str(write(tmp_path / "good.csv", csv_lines()))
    for name, part in (("gpt2", "holds a 'gpt2' model"), ("small-vocab", "has 1,000 rows")):
        out = cli(command, recipe_file(tmp_path, data, folders[name], name), db=db)
        assert_refused(out, part)
    assert not (tmp_path / "guards.db").exists()  # refused before the database is opened: nothing recorded


def test_validate_refuses_a_stray_quote_and_says_dropped_and_normalised_rows(tmp_path, db):
    out = cli("validate", recipe_file(tmp_path, str(stray_quote(tmp_path))), db=db)
    assert_refused(out, "stray.csv could not be read as CSV: lines 7 to 10")
    out = cli("validate", recipe_file(tmp_path, str(blank_labels(tmp_path))), db=db)
    assert out.returncode == 0, out.stderr
    assert "note: blank.csv: 31 of 60 rows dropped, 30 with no label" in out.stdout
    out = cli("validate", recipe_file(tmp_path, str(mixed_labels(tmp_path))), db=db)
    assert out.returncode == 0, out.stderr
    assert "2 labels: 0, 1" in out.stdout and "note: mixed.jsonl: column 'label' mixes JSON value types" in out.stdout


def test_run_says_the_rows_it_dropped(tmp_path, db):
    out = cli("run", "--quiet", recipe_file(tmp_path, str(blank_labels(tmp_path))), db=db)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "  blank.csv: 31 of 60 rows dropped, 30 with no label" in out.stderr


def test_a_run_given_its_data_ready_made_says_its_notes_too(tmp_path, engine):
    """A study tokenizes the data once and hands it to every trial's run: each run's log still says the notes."""
    from core import events as ev
    from core.recipe import EvaluationSettings

    recipe = Recipe(name="shared", model=ModelRef("tiny"), data=DataRef(source=str(blank_labels(tmp_path)),
                                                                        max_length=16),
                    steps=[], evaluation=EvaluationSettings(max_samples=8, latency_repeats=1, latency_batch_size=4))
    task = prepare_task(recipe.data, load_tokenizer("tiny"))
    logged = []
    engine.bus.subscribe(ev.LogMessage, lambda e: logged.append((e.level, e.message)))
    assert engine.run(recipe, task=task, use_cache=False).status == "finished"
    assert ("warning", str(task.notes[0])) in logged
