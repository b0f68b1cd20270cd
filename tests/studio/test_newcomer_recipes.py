"""Issue 13, items 3, 4 and 8: modified state in the title, asking before a stack is replaced, File > New,
run names from the stack, file dialogs that start in the last folder used."""

from __future__ import annotations

from pathlib import Path

from core.recipe import Recipe, Step
from studio.recipe_files import examples_folder


def _example(window, name: str):
    return next(a for a in window.examples_menu.actions() if a.text() == name)


def test_an_edited_example_shows_modified_and_is_named_from_its_stack(window, dialogs):
    _example(window, "quickstart").trigger()
    assert "example: quickstart" in window.windowTitle() and not window.isWindowModified()
    assert window.recipe().name == "quickstart"
    window.stack.add_method("quant.kbit")
    assert window.isWindowModified()
    assert window.recipe().name == "untitled"  # the run is named from its stack
    from core.naming import run_name

    assert run_name(window.recipe()).endswith("int8 \u2192 4-bit")
    window.stack.remove_current()  # back to the example as shipped
    assert not window.isWindowModified() and window.recipe().name == "quickstart"


def test_opening_an_example_over_changes_asks_and_keeps_the_data_caps(window, dialogs):
    window.data_panel.train_cap.setValue(321) if hasattr(window.data_panel, "train_cap") else None
    data = window.recipe().data
    data.train_samples = 321
    window.data_panel.set_data_ref(data)
    window.stack.add_method("prune.heads")
    assert window.isWindowModified()
    dialogs.answer = False
    assert not _example(window, "quickstart").trigger() and dialogs.questions  # asked ...
    assert window.stack.steps()[-1].method == "prune.heads"  # ... and "no" kept the edited stack
    dialogs.answer = True
    _example(window, "quickstart").trigger()
    assert len(dialogs.questions) == 2
    assert [s.method for s in window.stack.steps()][0] == "finetune"
    assert window.recipe().data.train_samples == 321  # an example is a stack: the data caps stay
    asked = len(dialogs.questions)
    _example(window, "quickstart").trigger()  # nothing modified: no question
    assert len(dialogs.questions) == asked


def test_file_new_empties_the_stack_and_open_asks_too(window, dialogs, tmp_path):
    window.stack.add_method("prune.heads")
    dialogs.answer = False
    assert not window.new_recipe()
    assert window.stack.steps()
    dialogs.answer = True
    window.new_action.trigger()
    assert window.stack.steps() == [] and "new stack" in window.windowTitle()
    assert not window.isWindowModified() and not window.run_action.isEnabled()
    path = tmp_path / "mine.yaml"
    Recipe(name="mine", steps=[Step("finetune", {"epochs": 0.5})]).save(path)
    window.stack.add_method("finetune")
    asked = len(dialogs.questions)
    assert window.open_recipe(path)
    assert len(dialogs.questions) == asked + 1
    assert "mine.yaml" in window.windowTitle() and not window.isWindowModified()


def test_saving_an_edited_stack_clears_the_mark_and_dialogs_start_in_the_last_folder(window, dialogs, tmp_path,
                                                                                      monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window.stack.add_method("quant.kbit")
    folder = tmp_path / "recipes"
    folder.mkdir()
    assert window.save_recipe(folder / "edited.yaml")
    assert not window.isWindowModified() and "edited.yaml" in window.windowTitle()
    # Issue 23, item 1.7: saved under the name built from its stack, not "untitled".
    assert Recipe.load(folder / "edited.yaml").name == "fine-tune \u2192 magnitude 50 % \u2192 fine-tune \u2192 int8 \u2192 4-bit"
    seen = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda parent, title, start, *a: (seen.append(start), ("", ""))[1])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda parent, title, start="", *a: seen.append(start) or "")
    window.open_recipe()
    assert seen[-1] == str(folder)
    window.data_panel._browse_data()
    assert seen[-1] == str(folder)  # nothing chosen for data yet: the last folder used for anything
    assert window.settings.last_folder("models") != str(Path.cwd()) or Path.cwd() == folder
    assert examples_folder().is_dir()
