"""A recipe file's relative data path is read against the file's folder; one found only from the current
directory still works (recipes written before the rule); saving writes it relative again (issue 21)."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.recipe import Recipe

ROOT = Path(__file__).parents[3]
NER = ROOT / "resources" / "examples" / "tasks" / "ner.conll"
RECIPE = """name: tagger
task: token-classification
model: {{source: tiny}}
data: {{source: {source}, max_length: 32}}
steps: [finetune]
"""


def _project(tmp_path: Path, source: str) -> Path:
    (tmp_path / "project" / "data").mkdir(parents=True)
    (tmp_path / "project" / "recipes").mkdir()
    shutil.copy(NER, tmp_path / "project" / "data" / "ner.conll")
    recipe = tmp_path / "project" / "recipes" / "tagger.yaml"
    recipe.write_text(RECIPE.format(source=source))
    return recipe


def test_a_relative_path_is_read_beside_the_recipe_from_any_folder(tmp_path, monkeypatch, capsys):
    from core import cli

    recipe = _project(tmp_path, "../data/ner.conll")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = Recipe.load(recipe)
    assert loaded.data.source == str((tmp_path / "project" / "data" / "ner.conll").resolve())
    assert cli.main(["validate", str(recipe)]) == 0, capsys.readouterr().err
    assert "task token-classification:" in capsys.readouterr().out


def test_beside_the_recipe_wins_over_the_current_folder(tmp_path, monkeypatch):
    recipe = _project(tmp_path, "data/ner.conll")
    (tmp_path / "project" / "recipes" / "data").mkdir()
    shutil.copy(NER, tmp_path / "project" / "recipes" / "data" / "ner.conll")
    monkeypatch.chdir(tmp_path / "project")  # data/ner.conll exists here too
    assert Recipe.load(recipe).data.source == str((tmp_path / "project" / "recipes" / "data" / "ner.conll").resolve())


def test_a_path_found_only_from_the_current_folder_keeps_the_old_reading(tmp_path, monkeypatch, capsys):
    from core import cli

    recipe = _project(tmp_path, "data/ner.conll")  # not beside the recipe: the project folder's data/
    monkeypatch.chdir(tmp_path / "project")
    assert Recipe.load(recipe).data.source == "data/ner.conll"
    assert cli.main(["validate", str(recipe)]) == 0, capsys.readouterr().err
    shipped = ROOT / "resources" / "recipes" / "task-token-classification.yaml"  # written to run from the project
    monkeypatch.chdir(ROOT)
    assert Recipe.load(shipped).data.source == "resources/examples/tasks/ner.conll"


def test_default_absolute_and_missing_sources_are_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for source in ("default", str(NER), "nowhere/ner.conll"):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(RECIPE.format(source=source))
        assert Recipe.load(recipe).data.source == source


def test_saving_writes_the_path_relative_to_the_recipe_again(tmp_path, monkeypatch):
    recipe = _project(tmp_path, "../data/ner.conll")
    monkeypatch.chdir(tmp_path)
    loaded = Recipe.load(recipe)
    copy = tmp_path / "project" / "copy.yaml"
    loaded.save(copy)
    assert "source: data/ner.conll" in copy.read_text()  # relative to the new file's folder
    assert Recipe.load(copy).data.source == loaded.data.source
    outside = tmp_path / "other" / "far.yaml"
    outside.parent.mkdir()
    loaded.save(outside)
    assert Recipe.load(outside).data.source == loaded.data.source  # outside the folder: the absolute path


def test_a_study_files_inline_recipe_reads_its_data_beside_the_study(tmp_path, monkeypatch):
    from core.study.spec import StudySpec

    recipe = _project(tmp_path, "../data/ner.conll")
    study = tmp_path / "project" / "recipes" / "study.yaml"
    study.write_text("kind: search\nrecipe:\n" + "".join(f"  {line}\n" for line in recipe.read_text().splitlines())
                     + "search: {params: [{step: 1, setting: max_steps, low: 1, high: 2}]}\nbudget: {trials: 2}\n")
    monkeypatch.chdir(tmp_path)
    spec = StudySpec.load(study)
    assert spec.recipe.data.source == str((tmp_path / "project" / "data" / "ner.conll").resolve())
    by_file = tmp_path / "project" / "recipes" / "by_file.yaml"
    by_file.write_text("kind: search\nrecipe: tagger.yaml\n"
                       "search: {params: [{step: 1, setting: max_steps, low: 1, high: 2}]}\nbudget: {trials: 2}\n")
    assert StudySpec.load(by_file).recipe.data.source == spec.recipe.data.source
