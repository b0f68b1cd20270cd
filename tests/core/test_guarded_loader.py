"""The one guarded loader (core.recipe_text) for every YAML/JSON file the studio reads: recipes, studies and
model folders' config.json and studio_model.json manifests get the same size, encoding, repeated-key and
alias checks, each refusal naming the kind of file."""

from __future__ import annotations

import pytest

from core.errors import RecipeError
from core.models.folder import ModelFolderError, read_json_object
from core.recipe_text import MAX_FILE_BYTES, load_document


@pytest.mark.parametrize("content, message", [
    (b'{"model_type": "bert", "model_type": "gpt2"}', "model_type: given twice; keep one"),
    (b'{"model_type": "caf\xe9"}', "is not UTF-8 text (byte 19 is 0xe9)"),
    (b'{"model_type": "bert", "pad": "' + b"x" * MAX_FILE_BYTES + b'"}', "is larger than 1024 KiB"),
    (b"[" * 100_000, "nested too deeply"),
    (b"{bad", "is not valid JSON"),
])
def test_a_model_manifest_goes_through_the_guarded_loader(tmp_path, content, message):
    file = tmp_path / "studio_model.json"
    file.write_bytes(content)
    with pytest.raises(ModelFolderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_json_object(file)


def test_the_loader_names_the_kind_of_file(tmp_path):
    file = tmp_path / "s.yaml"
    file.write_text("a: &a [*a]\n")
    with pytest.raises(RecipeError, match="the study file refers to itself through a YAML alias"):
        load_document(file, "study file")
    file.write_text("a: &a [" + ", ".join(["x"] * 9) + "]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh")))
    with pytest.raises(RecipeError, match="the settings file's YAML aliases expand to more than"):
        load_document(file, "settings file")
    with pytest.raises(RecipeError, match="no study file at"):
        load_document(tmp_path / "missing.yaml", "study file")


def test_pending_run_files_go_through_the_guarded_loader(tmp_path, monkeypatch, caplog):
    from core.db import pending

    monkeypatch.setenv("BERT_STUDIO_HOME", str(tmp_path))
    good = pending.keep("sqlite:///x.db", "run1", "finished", recipe={"name": "r"}, results={"accuracy": 0.9})
    assert pending.pending_for("sqlite:///x.db") == [good]
    twice = good.with_name("run2.json")
    twice.write_text(good.read_text().replace('"run_id": "run1"', '"run_id": "run2", "run_id": "run3"'))
    latin = good.with_name("run4.json")
    latin.write_bytes(good.read_bytes().replace(b'"name": "r"', b'"name": "caf\xe9"'))
    with caplog.at_level("WARNING", logger="core.db.pending"):
        assert pending.pending_for("sqlite:///x.db") == [good]  # the damaged files are named, not read
    said = caplog.text
    assert "run_id: given twice" in said and "run4.json is not UTF-8 text" in said


def test_step_cache_entries_go_through_the_guarded_loader(tmp_path):
    from core.engine.cache_entry import ENTRY_FILE, CacheEntry

    (tmp_path / ENTRY_FILE).write_text('{"format": 1, "format": 2}')
    with pytest.raises(ValueError, match="format: given twice"):
        CacheEntry.read(tmp_path)
    (tmp_path / ENTRY_FILE).write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a JSON object"):
        CacheEntry.read(tmp_path)
