"""One recipe model behind the window, the model/data panel, the stack and the form (issue 13's contract):
each change is converted once and validated once, and its problems reach the rows and fields as objects."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex

import core.recipe
import studio.main_window
import studio.recipe_model
from core.errors import Problem
from core.recipe import Recipe, Step


def _count(monkeypatch, module, name: str, counts: dict, key: str, only=lambda *a: True):
    original = getattr(module, name)

    def spy(*args, **kwargs):
        if only(*args):
            counts[key] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


def test_typing_into_a_field_validates_the_recipe_once_per_change(qtbot, window, monkeypatch):
    window.stack.set_steps([Step("finetune", {"epochs": 1.0}), Step("prune.magnitude", {"sparsity": 0.5})])
    window.stack.list.setCurrentRow(1)
    editor = window.form.editors["sparsity"]
    counts = {"validations": 0, "conversions": 0, "effective": 0}
    _count(monkeypatch, core.recipe.Recipe, "problems", counts, "validations")
    _count(monkeypatch, studio.recipe_model, "check_field", counts, "conversions",
           only=lambda info, value: info.name == "sparsity")
    _count(monkeypatch, studio.main_window, "effective_recipe", counts, "effective")
    editor.selectAll()
    changes = 0
    for key in "0.75":  # "0" (0.0), "0." (0.0 again: no change), "0.7", "0.75"
        before_value = window.recipe_model.steps[1].settings["sparsity"]
        before = dict(counts)
        qtbot.keyClicks(editor, key)
        changed = window.recipe_model.steps[1].settings["sparsity"] != before_value
        changes += changed
        assert counts["validations"] - before["validations"] == int(changed), key
        assert counts["conversions"] - before["conversions"] == 1, key  # the model converts the text, once
        assert counts["effective"] - before["effective"] <= 1, key  # the modified mark, worked out once
    assert changes == 3
    assert window.recipe_model.steps[1].settings["sparsity"] == 0.75  # stored as a number, not the text
    assert window.recipe().steps[1].settings["sparsity"] == 0.75


def test_the_window_panel_stack_and_form_edit_the_same_recipe(window):
    model = window.recipe_model
    assert window.data_panel.recipe_model is model and window.stack.recipe_model is model
    assert window.form.recipe_model is model
    recipe = model.recipe
    window.stack.list.setCurrentRow(1)
    assert window.stack.steps()[1] is recipe.steps[1] and window.form.step is recipe.steps[1]
    window.data_panel.train_cap.setValue(123)
    window.data_panel.device_box.setCurrentIndex(window.data_panel.device_box.findData("cpu"))
    assert model.recipe is recipe  # edited in place, not rebuilt
    assert recipe.data.train_samples == 123 and recipe.device == "cpu"
    assert window.data_panel.data_ref() == recipe.data and window.recipe().data.train_samples == 123
    window.stack.add_method("evaluate")
    assert recipe.steps[-1] is window.stack.current_step() is window.form.step
    # A recipe opened elsewhere is shown by every panel from the model.
    opened = Recipe(model=core.recipe.ModelRef("tiny"), steps=[Step("evaluate", {})])
    opened.data.train_samples = 77
    window.set_recipe(opened)
    assert window.data_panel.model_box.currentData() == "tiny" and window.data_panel.train_cap.value() == 77
    assert [s.method for s in window.stack.steps()] == ["evaluate"] and window.form.step is model.steps[0]
    assert model.recipe is not opened  # the window edits its own copy


def test_an_invalid_value_is_one_problem_object_marked_on_its_row_and_field(qtbot, window):
    window.stack.set_steps([Step("finetune", {}), Step("prune.magnitude", {"sparsity": 0.5}), Step("evaluate", {})])
    window.stack.list.setCurrentRow(1)
    with qtbot.waitSignal(window.recipe_model.problemsChanged) as blocker:
        window.form.set_value("sparsity", "2")
    problems = blocker.args[0]
    assert problems == window.problems()
    assert len(problems) == 1
    problem = problems[0]
    assert isinstance(problem, Problem) and (problem.step, problem.field) == (1, "sparsity")
    assert window.recipe_model.steps[1].settings["sparsity"] == "2"  # kept as typed, so Run stays off
    assert not window.run_action.isEnabled()
    rows = [window.stack.list.item(i) for i in range(3)]
    assert "\u26a0" in rows[1].text() and rows[1].toolTip() == str(problem)
    assert "\u26a0" not in rows[0].text() and "\u26a0" not in rows[2].text()
    assert window.form.errors == {"sparsity": problem.message}
    assert not window.form._error_labels["sparsity"].isHidden()
    # The mark follows the step when it moves (dragged in the list: the model is reordered too).
    window.stack.list.model().moveRow(QModelIndex(), 1, QModelIndex(), 3)
    assert [s.method for s in window.recipe_model.steps] == ["finetune", "evaluate", "prune.magnitude"]
    assert window.problems()[0].step == 2
    assert "\u26a0" in window.stack.list.item(2).text() and "\u26a0" not in window.stack.list.item(1).text()
    assert window.stack.list.currentRow() == 2 and window.form.step is window.recipe_model.steps[2]
    window.form.set_value("sparsity", "0.25")
    assert window.problems() == [] and window.run_action.isEnabled()
    assert window.form.errors == {} and "\u26a0" not in window.stack.list.item(2).text()


def test_a_setting_that_does_not_change_the_value_is_not_validated_again(qtbot):
    model = studio.recipe_model.RecipeModel(Recipe(steps=[Step("prune.magnitude", {"sparsity": 0.5})]))
    seen = []
    model.problemsChanged.connect(seen.append)
    model.set_step_setting(0, "sparsity", "0.50")
    model.set_data_field("train_samples", None)
    model.set_model_source("default")
    assert seen == [] and model.revision == 0
    model.set_step_setting(0, "sparsity", "0.6")
    assert len(seen) == 1 and model.revision == 1 and model.steps[0].settings["sparsity"] == 0.6
    model.set_steps([])
    assert [p.message for p in model.problems] == [studio.recipe_model.EMPTY_STACK]


def test_a_form_on_its_own_edits_a_copy_of_the_step_it_is_given(qtbot):
    from studio.widgets.settings_form import SettingsForm

    form = SettingsForm()
    qtbot.addWidget(form)
    given = Step("prune.magnitude", {"sparsity": 0.5})
    form.set_step(given)
    form.set_value("sparsity", "0.3")
    assert form.step.settings["sparsity"] == 0.3 and given.settings["sparsity"] == 0.5
    shared = SettingsForm(studio.recipe_model.RecipeModel())
    qtbot.addWidget(shared)
    with pytest.raises(ValueError, match="not a step of the recipe being edited"):
        shared.set_step(given)  # a shared model is edited through its own steps only
