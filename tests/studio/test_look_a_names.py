"""Issue 23, item 1.7 and part 2: a recipe name field, names built from the stack, and the evaluation settings
in the window."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.naming import run_name, stack_name
from core.recipe import Recipe
from tests.studio.conftest import quick_recipe, record_run


def test_an_opened_trials_name_does_not_stick_to_other_stacks_or_models(qtbot, window, db_url):
    trial = quick_recipe()
    trial.name = "order study: trial 3"
    run_id = record_run(db_url, trial, {"accuracy": 0.5})
    window.runs.refresh()
    assert window.open_run_recipe(run_id)
    assert window.name_field.edit.text() == "order study: trial 3"
    window.recipe_model.set_model_source("/somewhere/another-model")  # another model, same stack
    assert window.recipe().name == "untitled"
    assert run_name(window.recipe()) == stack_name(window.recipe().steps)
    assert window.name_field.edit.text() == ""
    assert window.name_field.edit.placeholderText() == stack_name(window.recipe().steps)
    window.recipe_model.set_model_source(trial.model.source)  # back to the trial as recorded: its name again
    assert window.recipe().name == "order study: trial 3"
    window.stack.add_method("quant.dynamic_int8")
    assert window.recipe().name == "untitled"
    assert "int8" in window.name_field.edit.placeholderText()  # the name built from the stack, as it is now


def test_a_typed_name_sticks_and_is_saved(qtbot, window, tmp_path):
    window.name_field.edit.clear()
    qtbot.keyClicks(window.name_field.edit, "my small model")
    assert window.recipe().name == "my small model" and window.isWindowModified()
    window.stack.add_method("quant.dynamic_int8")  # a stack change keeps a typed name
    assert window.recipe().name == "my small model"
    path = tmp_path / "named.yaml"
    assert window.save_recipe(path)
    assert Recipe.load(path).name == "my small model" and not window.isWindowModified()
    window.name_field.edit.selectAll()
    qtbot.keyClick(window.name_field.edit, Qt.Key.Key_Delete)  # cleared: named from the stack again
    assert window.recipe().name == "untitled"


def test_the_evaluation_settings_are_edited_in_the_window(qtbot, window, tmp_path):
    form = window.evaluation_form
    tabs = window.bottom_tabs
    tab = next(i for i in range(tabs.count()) if tabs.tabText(i) == "Evaluation")
    tabs.setCurrentIndex(tab)
    assert form.isVisible()
    form.set_value("split", "validation")
    form.set_value("latency_repeats", 9)
    form.set_value("latency_threads", 2)
    form.profiles["single-fixed"].click()
    evaluation = window.recipe().evaluation
    assert evaluation.split == "validation" and evaluation.latency_repeats == 9 and evaluation.latency_threads == 2
    assert evaluation.latency_profiles == ["throughput-fixed", "single-fixed"]  # the headline profile stays first
    assert window.isWindowModified()
    path = tmp_path / "evaluated.yaml"
    assert window.save_recipe(path)
    assert Recipe.load(path).evaluation.latency_repeats == 9
    # A value that is not a number stays visible, is flagged, and Run waits.
    qtbot.keyClicks(form.editors["latency_repeats"], "x")
    assert not window.run_action.isEnabled()
    assert form.errors.isVisible() and "Timed rounds" in form.errors.text()
    form.set_value("latency_repeats", 5)
    assert window.run_action.isEnabled() and not form.errors.isVisible()
    form.profiles["throughput-fixed"].click()
    form.profiles["single-fixed"].click()  # none left: a problem too
    assert any(p.field == "evaluation.latency_profiles" for p in window.problems())
    assert not window.run_action.isEnabled()


def test_an_opened_recipes_evaluation_shows_in_the_form(qtbot, window, tmp_path):
    recipe = quick_recipe()
    recipe.name = "measured"
    recipe.evaluation.split = "validation"
    recipe.evaluation.latency_profiles = ["single-dynamic"]
    recipe.evaluation.latency_threads = 3
    path = tmp_path / "measured.yaml"
    recipe.save(path)
    assert window.open_recipe(path)
    form = window.evaluation_form
    assert form.editors["split"].currentText() == "validation"
    assert form.editors["latency_threads"].text() == "3"
    assert [p for p, c in form.profiles.items() if c.isChecked()] == ["single-dynamic"]
    assert window.name_field.edit.text() == "measured" and not window.isWindowModified()
