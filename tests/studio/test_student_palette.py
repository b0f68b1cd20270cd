"""BiLSTM and CNN students in the studio (#24): the palette greys what a student cannot take, the stack editor
flags a transformer-only step after a student step, and a student's folder is a model the panel can choose."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.recipe import Step


def _palette_item(palette, name):
    return next(item for item in palette._items() if item.data(0, Qt.ItemDataRole.UserRole) == name)


def _enabled(item) -> bool:
    return bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)


def test_a_student_family_greys_out_the_transformer_methods_with_the_reason(qtbot):
    from studio.widgets.method_palette import MethodPalette

    palette = MethodPalette()
    qtbot.addWidget(palette)
    palette.set_model_profile("bilstm")
    for name in ("prune.heads", "prune.ffn", "prune.layers", "distill.student_init", "distill.task_agnostic"):
        item = _palette_item(palette, name)
        assert not _enabled(item), name
        assert "BiLSTM student" in item.toolTip(0) and "attention heads" in item.toolTip(0)
    for name in ("finetune", "distill.train", "quant.dynamic_int8", "evaluate"):
        assert _enabled(_palette_item(palette, name)), name


def test_the_stack_flags_a_transformer_step_after_a_student_step_and_a_student_folder_greys_the_palette(
        qtbot, window, tmp_path, tiny_task):
    from core.models.checkpoint import save_checkpoint
    from tests.conftest import apply_method, method_context
    from tests.core.methods.test_distillation_support import tiny_bert

    window.stack.set_steps([Step("distill.student_init", {"architecture": "cnn"}), Step("prune.heads"),
                            Step("distill.train", {"max_steps": 1})])
    qtbot.waitUntil(lambda: "\u26a0" in window.stack.list.item(1).text(), timeout=30_000)
    assert "CNN student" in window.stack.list.item(1).toolTip()
    assert "\u26a0" not in window.stack.list.item(2).text()
    assert not window.run_action.isEnabled()

    teacher = tiny_bert(layers=2)
    student = apply_method("distill.student_init", teacher, method_context(tmp_path, tiny_task, teacher),
                           architecture="bilstm", embedding_size=16, lstm_hidden_size=8, mlp_size=8)
    folder = str(save_checkpoint(student, tmp_path / "student"))
    window.stack.set_steps([])  # the palette greys for the stack's end: here, the chosen folder's model itself
    panel, heads = window.data_panel, _palette_item(window.palette, "prune.heads")
    panel.choose_model_folder(folder)
    qtbot.waitUntil(lambda: not panel.busy and panel.model_box.currentData() == folder, timeout=30_000)
    qtbot.waitUntil(lambda: not _enabled(heads), timeout=30_000)
    assert "BiLSTM student" in heads.toolTip(0)
    assert _enabled(_palette_item(window.palette, "finetune"))


def test_after_a_bilstm_student_step_the_palette_greys_the_transformer_methods_with_the_reason(qtbot):
    from studio.widgets.method_palette import MethodPalette

    palette = MethodPalette()
    qtbot.addWidget(palette)
    palette.set_model_profile("bert")
    heads = _palette_item(palette, "prune.heads")
    assert _enabled(heads)
    palette.set_steps([Step("finetune"), Step("distill.student_init", {"architecture": "bilstm"})])
    assert not _enabled(heads)
    tip = heads.toolTip(0)
    assert "after step 2 (distill.student_init)" in tip and "BiLSTM student" in tip and "attention heads" in tip
    assert palette.refusal("prune.ffn") and palette.refusal("distill.task_agnostic")
    for name in ("finetune", "distill.train", "quant.dynamic_int8", "evaluate"):
        assert _enabled(_palette_item(palette, name)), name
    palette.set_steps([Step("distill.student_init", {"architecture": "transformer"})])  # a transformer student
    assert _enabled(heads) and palette.refusal("prune.heads") is None
    palette.set_model_profile("", steps=[Step("distill.student_init", {"architecture": "cnn"})])  # a hub name
    assert not _enabled(heads) and "CNN student" in heads.toolTip(0)


def test_the_windows_palette_follows_the_stack_to_its_end(qtbot, window):
    heads = _palette_item(window.palette, "prune.heads")
    window.stack.set_steps([Step("distill.student_init", {"architecture": "bilstm"})])
    qtbot.waitUntil(lambda: not _enabled(heads), timeout=30_000)
    assert "after step 1 (distill.student_init)" in heads.toolTip(0) and "BiLSTM student" in heads.toolTip(0)
    window.stack.list.setCurrentRow(0)
    window.stack.remove_current()
    qtbot.waitUntil(lambda: _enabled(heads), timeout=30_000)
