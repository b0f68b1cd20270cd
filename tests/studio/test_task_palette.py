"""The palette greys out a method the recipe's task cannot take, with the reason, as it does for a family."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt


@dataclass
class _Settings:
    amount: float = 0.5


def test_a_method_the_task_cannot_take_is_greyed_out_with_the_reason(qtbot, monkeypatch):
    from core import registry
    from studio.widgets.method_palette import MethodPalette

    registry.all_methods()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register_method("test.sentences", family="pruning", title="Sentence widget", description="d",
                             config=_Settings, phrase="widget", tasks=("sequence-classification",),
                             task_reason="it reads one decision per sentence")(lambda state, cfg, ctx: state)
    palette = MethodPalette()
    qtbot.addWidget(palette)
    item = next(i for i in palette._items() if i.data(0, Qt.ItemDataRole.UserRole) == "test.sentences")
    assert item.flags() & Qt.ItemFlag.ItemIsEnabled
    palette.set_model_profile("bert", task="question-answering")
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "question-answering task: it reads one decision per sentence" in item.toolTip(0)
    assert palette.refusal("test.sentences") and palette.refusal("prune.heads") is None
    palette.set_model_profile("", quantized=False)  # the family unknown (a hub name): the task still refuses
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
    palette.set_task("sequence-classification")
    assert item.flags() & Qt.ItemFlag.ItemIsEnabled and palette.refusal("test.sentences") is None
