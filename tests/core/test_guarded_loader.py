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
