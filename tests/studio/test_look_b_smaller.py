"""Smaller things, second look (#23 1.12): a greyed method's reason shown on click; the inspector says int8."""

from __future__ import annotations

from PySide6.QtCore import Qt

from studio.widgets.method_palette import MethodPalette


def test_clicking_a_greyed_method_shows_why_in_the_description(qtbot):
    palette = MethodPalette()
    qtbot.addWidget(palette)
    palette.resize(300, 900)
    palette.show()
    qtbot.waitExposed(palette)
    palette.set_model_profile("bert", quantized=True)  # an int8 model: training and pruning are greyed
    name = "finetune"
    reason = palette.refusal(name)
    assert reason
    item = next(i for i in palette._items() if i.data(0, Qt.ItemDataRole.UserRole) == name)
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
    palette.tree.scrollToItem(item)
    rect = palette.tree.visualItemRect(item)
    qtbot.mouseClick(palette.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    text = palette.description.text()
    assert "Not available for this model" in text and reason in text


def test_the_inspector_says_a_model_is_int8(qtbot, tiny_state):
    from core.methods.quantization.dynamic import quantize_dynamic_int8
    from core.models.architecture import describe
    from studio.dialogs.inspector import ModelInspector
    from studio.window_runs import weight_precision

    float_text = weight_precision(tiny_state.model, False)
    assert float_text == "float32"
    model = quantize_dynamic_int8(tiny_state.model, False, True)
    text = weight_precision(model, True)
    assert text.startswith("int8 (") and "dynamic quantization" in text
    inspector = ModelInspector({**describe(model), "size_bytes": 1, "precision": text})
    qtbot.addWidget(inspector)
    summary = inspector.findChildren(type(inspector.layout().itemAt(0).widget()))[0]
    assert "Weights: int8" in summary.text()
