"""The column-mapping dialog: preview, label counts, a refused label column, and the mapping it hands back."""

from __future__ import annotations

import pytest

from core.recipe import DataRef

WAIT_MS = 20_000


@pytest.fixture
def reviews_csv(tmp_path):
    """24 rows: 14 pos and 10 neg under ``sentiment``, a continuous ``score``, and a second text column."""
    lines = ["review,sentiment,score,title"]
    for i in range(24):
        label = "pos" if i < 14 else "neg"
        lines.append(f"review number {i} is {'great' if label == 'pos' else 'dull'},{label},{i * 0.37 + 0.01:.2f},t{i}")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _open(qtbot, panel, path):
    """Open the dialog and wait until its first guess has been checked (results arrive through the event loop)."""
    dialog = panel.map_data_source(str(path))
    with qtbot.waitSignal(dialog.checked, timeout=WAIT_MS):
        pass
    return dialog


def _check(qtbot, dialog, box, text):
    with qtbot.waitSignal(dialog.checked, timeout=WAIT_MS):
        box.setCurrentIndex(box.findText(text))


def test_the_dialog_previews_rows_guesses_columns_and_counts_labels(qtbot, reviews_csv):
    from studio.widgets.model_data_panel import ModelDataPanel

    panel = ModelDataPanel()
    qtbot.addWidget(panel)
    dialog = _open(qtbot, panel, reviews_csv)
    assert dialog.isVisible() and dialog.isModal()  # opened, not exec'd: the test goes on
    assert dialog.columns == ["review", "sentiment", "score", "title"]
    assert dialog.table.rowCount() == 20 and dialog.table.columnCount() == 4
    assert dialog.table.item(0, 0).text() == "review number 0 is great"
    assert "24 rows" in dialog.summary.text()
    assert dialog.text_column.currentText() == "review"  # guessed from the names
    # "sentiment" is not a guessable label name: the last column was picked; choose it.
    _check(qtbot, dialog, dialog.label_column, "sentiment")
    assert dialog.valid and dialog.ok_button.isEnabled()
    assert dialog.counts == {"neg": 10, "pos": 14}
    assert "neg: 10" in dialog.counts_label.text() and "pos: 14" in dialog.counts_label.text()


def test_a_continuous_label_column_disables_ok_with_the_reason(qtbot, reviews_csv):
    from studio.widgets.model_data_panel import ModelDataPanel

    panel = ModelDataPanel()
    qtbot.addWidget(panel)
    dialog = _open(qtbot, panel, reviews_csv)
    _check(qtbot, dialog, dialog.label_column, "sentiment")
    assert dialog.ok_button.isEnabled()
    _check(qtbot, dialog, dialog.label_column, "score")
    assert not dialog.valid and not dialog.ok_button.isEnabled()
    assert "continuous" in dialog.error and not dialog.error_label.isHidden()
    assert "continuous" in dialog.error_label.text()
    dialog.accept()  # Enter on an invalid mapping does nothing
    assert dialog.isVisible()
    _check(qtbot, dialog, dialog.label_column, "review")  # the text column twice
    assert not dialog.ok_button.isEnabled() and "different" in dialog.error


def test_accepting_sets_the_panels_data_ref_and_an_unreadable_file_says_why(qtbot, window, reviews_csv, tmp_path):
    panel = window.data_panel
    panel.train_cap.setValue(300)
    dialog = _open(qtbot, panel, reviews_csv)
    _check(qtbot, dialog, dialog.label_column, "sentiment")
    _check(qtbot, dialog, dialog.pair_column, "title")
    with qtbot.waitSignal(panel.dataAccepted, timeout=WAIT_MS):
        dialog.ok_button.click()
    ref = window.recipe().data
    assert ref == DataRef(source=str(reviews_csv), text_column="review", text_pair_column="title",
                          label_column="sentiment", max_length=ref.max_length, train_samples=300,
                          validation_samples=ref.validation_samples, test_samples=ref.test_samples)
    assert window.settings.recent("data") == [str(reviews_csv)]
    assert window.run_action.isEnabled()

    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet at all")
    bad = panel.map_data_source(str(broken))
    qtbot.waitUntil(lambda: bad.error != "", timeout=WAIT_MS)
    assert "broken.parquet" in bad.error_label.text() and not bad.ok_button.isEnabled()
    bad.reject()
    assert window.recipe().data.source == str(reviews_csv)  # cancelling changed nothing
