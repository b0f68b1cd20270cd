"""Bad model folders and data files give a clear error and change nothing; recipes save and open."""

from __future__ import annotations

from core.recipe import Recipe


def test_bad_model_folder_shows_the_error_and_keeps_the_model(qtbot, window, dialogs, tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    window.data_panel.choose_model_folder(str(folder))
    assert not window.run_action.isEnabled()  # busy while checking
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=10_000)
    title, message, details = dialogs.errors[0]
    assert "config.json" in message and str(folder) in message
    assert details
    assert window.recipe().model.source == "default"
    qtbot.waitUntil(window.run_action.isEnabled, timeout=2000)


def test_malformed_dataset_shows_the_error_and_keeps_the_data(qtbot, window, dialogs, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet at all")
    window.data_panel.choose_data_file(str(bad))
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=10_000)
    assert "broken.parquet" in dialogs.errors[0][1]
    assert window.recipe().data.source == "default"


def test_good_dataset_file_is_accepted_with_its_columns(qtbot, window, dialogs, tmp_path):
    good = tmp_path / "reviews.csv"
    good.write_text("sentence,category\ngood film,pos\nbad film,neg\n")
    window.data_panel.choose_data_file(str(good))
    qtbot.waitUntil(lambda: window.recipe().data.source == str(good), timeout=10_000)
    data = window.recipe().data
    assert (data.text_column, data.label_column) == ("sentence", "category")
    assert dialogs.errors == []


def test_recipe_saves_and_opens_with_the_same_stack(window, dialogs, tmp_path):
    window.stack.list.setCurrentRow(1)
    window.form.set_value("sparsity", "0.7")
    path = tmp_path / "mine.yaml"
    assert window.save_recipe(path)
    saved = window.recipe()
    window.stack.set_steps([])
    assert window.open_recipe(path)
    assert window.recipe().to_dict() == saved.to_dict()
    assert window.recipe().steps[1].settings["sparsity"] == 0.7
    assert str(path) in window.settings.recent("recipes")
    assert Recipe.load(path).steps[1].settings["sparsity"] == 0.7


def test_opening_a_broken_recipe_shows_the_error_and_keeps_the_stack(window, dialogs, tmp_path):
    before = window.recipe().to_dict()
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert not window.open_recipe(path)
    assert "JSON" in dialogs.errors[0][1]
    assert window.recipe().to_dict() == before
