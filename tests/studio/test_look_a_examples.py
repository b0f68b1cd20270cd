"""Issue 23, item 1.6: opening an example says which of the window's model, data and sample caps it kept, with
one click to use the example's."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.recipe import Recipe
from studio.recipe_files import examples_folder


def _example(window, name: str):
    return next(a for a in window.examples_menu.actions() if a.text() == name)


def _small_caps(window) -> None:
    data = window.recipe().data
    data.train_samples, data.validation_samples, data.test_samples = 200, 100, 100
    window.data_panel.set_data_ref(data)
    window.mark_clean()


def test_opening_an_example_says_which_caps_it_kept_and_one_click_takes_the_examples(qtbot, window, dialogs):
    _small_caps(window)
    _example(window, "quickstart").trigger()
    note = window.inputs_note
    assert note.isVisible()
    assert "200/100/100" in note.text.text() and "2,000/500/1,000" in note.text.text()
    assert window.recipe().data.train_samples == 200  # kept, and said so
    window.stack.list.setCurrentRow(0)  # the stack as shipped
    qtbot.mouseClick(note.use_button, Qt.MouseButton.LeftButton)
    shipped = Recipe.load(examples_folder() / "quickstart.yaml")
    data = window.recipe().data
    assert (data.train_samples, data.validation_samples, data.test_samples) == (2000, 500, 1000)
    assert not note.isVisible()
    assert window.recipe().name == "quickstart" and not window.isWindowModified()
    assert [s.method for s in window.recipe().steps] == [s.method for s in shipped.steps]


def test_no_note_when_the_window_already_has_the_examples_inputs(qtbot, window, dialogs):
    data = window.recipe().data
    data.train_samples, data.validation_samples, data.test_samples = 2000, 500, 1000
    window.data_panel.set_data_ref(data)
    window.mark_clean()
    _example(window, "quickstart").trigger()
    assert not window.inputs_note.isVisible()


def test_keep_mine_hides_the_note_and_opening_another_recipe_clears_it(qtbot, window, dialogs, tmp_path):
    _small_caps(window)
    _example(window, "quickstart").trigger()
    window.inputs_note.keep_button.click()
    assert not window.inputs_note.isVisible() and window.recipe().data.train_samples == 200
    _example(window, "quickstart").trigger()
    assert window.inputs_note.isVisible()
    window.new_recipe()
    assert not window.inputs_note.isVisible()
