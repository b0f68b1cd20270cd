"""Issue 13, item 8: a malformed JSON Lines file says what is wrong in the dialog, not only on stderr."""

from __future__ import annotations

import pytest

WAIT_MS = 20_000


@pytest.mark.parametrize("lines, line_no", [
    (['{"text": "good", "label": 1}', '{"text": "bad", "label": '], 2),
    (['{"text": "bad" "label": 0}', '{"text": "good", "label": 1}'], 1),
])
def test_a_malformed_json_lines_file_names_the_line_in_the_mapping_dialog(qtbot, tmp_path, lines, line_no):
    from studio.dialogs.column_mapping import ColumnMappingDialog

    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    dialog = ColumnMappingDialog(str(path))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.previewReady, timeout=WAIT_MS):
        dialog.show()
    text = dialog.error_label.text()
    assert dialog.error_label.isVisibleTo(dialog)
    assert f"line {line_no}" in text and "JSON" in text, text
    assert "An error occurred while generating the dataset" not in text
    assert not dialog.valid
