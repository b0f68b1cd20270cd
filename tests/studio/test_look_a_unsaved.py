"""Issue 23, item 1.4: quitting asks about an unsaved stack, with Save / Discard / Cancel in every such prompt."""

from __future__ import annotations

from core.recipe import Recipe
from studio.dialogs import errors


def _answer(monkeypatch, choice: str) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr(errors, "ask_save_discard_cancel", lambda parent, title, q: asked.append(q) or choice)
    return asked


def test_quit_with_an_unsaved_stack_asks_and_cancel_keeps_the_window(qtbot, window, monkeypatch):
    window.stack.add_method("prune.heads")
    assert window.isWindowModified()
    asked = _answer(monkeypatch, "cancel")
    window.quit_action.trigger()
    assert asked and "quit" in asked[0]
    assert window.isVisible() and window.stack.steps()[-1].method == "prune.heads"
    asked = _answer(monkeypatch, "discard")
    window.quit_action.trigger()
    assert asked and not window.isVisible()


def test_quit_with_nothing_modified_asks_nothing(qtbot, window, monkeypatch):
    asked = _answer(monkeypatch, "cancel")
    assert window.close() and asked == []


def test_save_in_the_quit_prompt_writes_the_recipe_then_quits(qtbot, window, monkeypatch, tmp_path):
    path = tmp_path / "mine.yaml"
    assert window.save_recipe(path)
    window.stack.add_method("prune.heads")
    _answer(monkeypatch, "save")
    assert window.close()
    assert Recipe.load(path).steps[-1].method == "prune.heads"


def test_opening_an_example_over_changes_offers_save_too(qtbot, window, monkeypatch, tmp_path):
    path = tmp_path / "mine.yaml"
    assert window.save_recipe(path)
    window.stack.add_method("prune.heads")
    example = next(a for a in window.examples_menu.actions() if a.text() == "quickstart")
    asked = _answer(monkeypatch, "save")
    example.trigger()
    assert asked and "open this example" in asked[0]
    assert Recipe.load(path).steps[-1].method == "prune.heads"  # saved first ...
    assert window.recipe().name == "quickstart"  # ... then opened
    window.stack.add_method("prune.heads")
    _answer(monkeypatch, "cancel")
    assert not window.new_recipe() and window.stack.steps()[-1].method == "prune.heads"
