"""The palette and the stack editor know the chosen model's family (issue 12, the studio part)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.recipe import Step


def _palette_item(palette, name):
    return next(item for item in palette._items() if item.data(0, Qt.ItemDataRole.UserRole) == name)


def _albert_folder(path):
    from core.models.loading import load_tokenizer
    from tests.core.methods.families import family_model

    family_model("albert").save_pretrained(path)
    load_tokenizer("tiny").save_pretrained(path)
    return path


def test_an_albert_model_greys_out_layer_pruning_and_flags_the_step(qtbot, window, tmp_path):
    folder = str(_albert_folder(tmp_path / "albert"))
    palette, panel = window.palette, window.data_panel
    layers, heads = _palette_item(palette, "prune.layers"), _palette_item(palette, "prune.heads")
    assert layers.flags() & Qt.ItemFlag.ItemIsEnabled  # the embedded default is a BERT
    window.stack.set_steps([Step("finetune", {"max_steps": 2}), Step("prune.layers", {"strategy": "first_k", "keep": 1})])
    assert window.run_action.isEnabled()

    panel.choose_model_folder(folder)
    qtbot.waitUntil(lambda: not panel.busy and panel.model_box.currentData() == folder, timeout=30_000)
    assert not layers.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "ALBERT" in layers.toolTip(0) and "one set of layer weights" in layers.toolTip(0)
    assert heads.flags() & Qt.ItemFlag.ItemIsEnabled and "Not available" not in heads.toolTip(0)
    # The step already in the stack is flagged like any recipe problem, and Run is off.
    flagged = window.stack.list.item(1)
    assert "\u26a0" in flagged.text() and "ALBERT" in flagged.toolTip()
    assert "\u26a0" not in window.stack.list.item(0).text()
    assert not window.run_action.isEnabled()
    assert any(p.step == 1 and "ALBERT" in p.message for p in window.problems())
    assert "ALBERT" in window.problems_label.text()
    # A greyed-out method cannot be added by double-clicking it.
    palette.tree.itemActivated.emit(layers, 0)
    assert len(window.stack.steps()) == 2

    panel.model_box.setCurrentIndex(panel.model_box.findData("default"))
    assert layers.flags() & Qt.ItemFlag.ItemIsEnabled and "Not available" not in layers.toolTip(0)
    assert "\u26a0" not in window.stack.list.item(1).text()
    assert window.run_action.isEnabled()


def test_an_int8_model_greys_out_training(qtbot):
    from studio.widgets.method_palette import MethodPalette

    palette = MethodPalette()
    qtbot.addWidget(palette)
    palette.set_model_profile("bert", quantized=True)
    finetune, int8 = _palette_item(palette, "finetune"), _palette_item(palette, "quant.dynamic_int8")
    assert not finetune.flags() & Qt.ItemFlag.ItemIsEnabled and "int8" in finetune.toolTip(0)
    assert palette.refusal("finetune")
    palette.set_model_profile("", quantized=False)  # unknown until loaded (a hub name): nothing refused
    assert finetune.flags() & Qt.ItemFlag.ItemIsEnabled and palette.refusal("finetune") is None
    assert int8.flags() & Qt.ItemFlag.ItemIsEnabled


def test_the_family_is_checked_once_the_libraries_are_loaded(qtbot, window, tmp_path, monkeypatch):
    """Before the warm-up has loaded torch the family is unknown (nothing refused); warmedUp checks it."""
    import studio.model_profile as profile

    folder = str(_albert_folder(tmp_path / "albert"))
    window.stack.set_steps([Step("prune.layers", {"strategy": "first_k", "keep": 1})])
    monkeypatch.setattr(profile, "torch_loaded", lambda: False)
    window.data_panel._select(window.data_panel.model_box, folder, {})
    layers = _palette_item(window.palette, "prune.layers")
    assert layers.flags() & Qt.ItemFlag.ItemIsEnabled and window.run_action.isEnabled()
    monkeypatch.setattr(profile, "torch_loaded", lambda: True)
    window.warmedUp.emit()
    assert not layers.flags() & Qt.ItemFlag.ItemIsEnabled and not window.run_action.isEnabled()
