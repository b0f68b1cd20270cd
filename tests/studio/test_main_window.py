"""The window opens on the defaults, and the stack and form edit the recipe."""

from __future__ import annotations

from core.registry import all_methods


def test_window_opens_with_default_model_data_and_runnable_stack(window):
    recipe = window.recipe()
    assert recipe.model.source == "default"
    assert recipe.data.source == "default"
    assert recipe.steps, "the studio opens with an example stack"
    assert recipe.problems() == []
    assert window.run_action.isEnabled()
    assert not window.cancel_action.isEnabled()
    assert window.palette.method_names() == [s.name for s in all_methods()]
    assert window.store.available, window.store.error


def test_adding_reordering_duplicating_and_removing_steps_changes_the_recipe(window):
    window.stack.set_steps([])
    assert not window.run_action.isEnabled()  # an empty stack cannot run
    window.palette.methodActivated.emit("finetune")
    window.stack.add_method("evaluate")
    window.stack.add_method("prune.magnitude")
    assert [s.method for s in window.recipe().steps] == ["finetune", "evaluate", "prune.magnitude"]
    window.stack.list.setCurrentRow(2)
    window.stack.move_current(-1)
    assert [s.method for s in window.recipe().steps] == ["finetune", "prune.magnitude", "evaluate"]
    window.stack.duplicate_current()
    assert [s.method for s in window.recipe().steps] == ["finetune", "prune.magnitude", "prune.magnitude", "evaluate"]
    window.stack.list.setCurrentRow(0)
    window.stack.remove_current()
    assert [s.method for s in window.recipe().steps] == ["prune.magnitude", "prune.magnitude", "evaluate"]
    assert window.stack.list.item(0).text().startswith("1. ")


def test_duplicated_step_has_independent_settings(window):
    window.stack.set_steps([])
    window.stack.add_method("prune.magnitude")
    window.stack.duplicate_current()
    window.form.set_value("sparsity", "0.3")
    sparsities = [s.settings["sparsity"] for s in window.recipe().steps]
    assert sparsities == [0.5, 0.3]


def test_invalid_value_is_flagged_and_disables_run(window):
    window.stack.list.setCurrentRow(0)  # the example's fine-tuning step
    assert window.form.step.method == "finetune"
    window.form.set_value("epochs", "-1")
    assert "epochs" in window.form.errors
    assert window.form.editors["epochs"].property("invalid") is True
    assert not window.form._error_labels["epochs"].isHidden()
    assert not window.run_action.isEnabled()
    assert any(p.field == "epochs" for p in window.problems())
    window.form.set_value("epochs", "abc")
    assert "number" in window.form.errors["epochs"]
    window.form.set_value("epochs", "0.5")
    assert window.form.errors == {}
    assert window.recipe().steps[0].settings["epochs"] == 0.5
    assert window.run_action.isEnabled()


def test_impossible_order_disables_run_and_marks_the_step(window):
    window.stack.set_steps([])
    window.stack.add_method("quant.dynamic_int8")
    window.stack.add_method("finetune")
    assert not window.run_action.isEnabled()
    assert "cannot train after" in window.problems_label.text()
    assert "\u26a0" in window.stack.list.item(1).text()
    window.stack.move_current(-1)
    assert window.run_action.isEnabled()


def test_optional_field_accepts_empty(window):
    window.stack.list.setCurrentRow(0)
    window.form.set_value("max_steps", "")
    assert window.form.errors == {}
    assert window.recipe().steps[0].settings["max_steps"] is None


def test_shortcuts_are_bound(window):
    from PySide6.QtGui import QKeySequence

    assert window.run_action.shortcut() == QKeySequence("Ctrl+R")
    assert window.cancel_action.shortcut() == QKeySequence("Ctrl+.")
    assert window.save_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Save)
    assert window.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)


def test_window_geometry_and_recent_recipes_are_remembered(qtbot, window, tmp_path):
    from studio.main_window import MainWindow
    from studio.settings import StudioSettings

    window.resize(760, 560)  # inside the offscreen screen: restoreGeometry clamps to it
    qtbot.waitUntil(lambda: window.width() != 1380, timeout=2000)
    size = (window.width(), window.height())
    window.save_recipe(tmp_path / "r.json")
    assert window.close()
    settings = StudioSettings(str(tmp_path / "studio.ini"))
    assert settings.recent("recipes") == [str(tmp_path / "r.json")]
    again = MainWindow(settings=settings)
    qtbot.addWidget(again)
    assert settings.geometry() is not None
    # The offscreen screen is 800 px wide, narrower than the docks' minimum width, so only the height is compared.
    assert again.height() == size[1]
    assert [a.text() for a in again.recent_menu.actions()] == [str(tmp_path / "r.json")]
    again.controller.shutdown()


def test_window_fits_a_1400_by_900_screen_even_with_long_status_texts(window):
    window.dashboard.status.setText("Finished: accuracy 81.2 %, 2.31x faster, 1.52x fewer parameters " * 2)
    window.dashboard.message.setText("step 1234/5678, loss 0.123456 " * 4)
    window.main_tabs.setCurrentWidget(window.browser)
    window.main_tabs.setCurrentIndex(0)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1400 and hint.height() <= 900, hint


def test_every_toolbar_action_explains_itself_and_names_its_shortcut(window):
    from PySide6.QtGui import QKeySequence
    from PySide6.QtWidgets import QToolBar

    toolbar = window.findChild(QToolBar, "main_toolbar")
    actions = [a for a in toolbar.actions() if not a.isSeparator()]
    assert len(actions) == 7  # open, save, run, queue, pause, cancel, study
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys and keys in action.toolTip(), (action.text(), action.toolTip())
        assert action.toolTip() != action.text().replace("&", "")  # more than the bare label
