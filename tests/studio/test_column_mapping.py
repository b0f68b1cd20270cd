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


def test_the_check_says_the_rows_it_drops(qtbot, reviews_csv):
    from studio.widgets.model_data_panel import ModelDataPanel

    lines = reviews_csv.read_text().splitlines()
    lines[3] = lines[3].replace(",pos,", ",,")  # rows 3 and 5 lose their label
    lines[5] = lines[5].replace(",pos,", ",,")
    reviews_csv.write_text("\n".join(lines) + "\n")
    panel = ModelDataPanel()
    qtbot.addWidget(panel)
    dialog = _open(qtbot, panel, reviews_csv)
    _check(qtbot, dialog, dialog.label_column, "sentiment")
    assert dialog.valid and dialog.counts == {"neg": 10, "pos": 12}
    assert dialog.notes == ("reviews.csv: 2 of 24 rows dropped, 2 with no label (column 'sentiment'): rows 3, 5 "
                            "(data rows counted from 1, a header line not counted)",)
    assert not dialog.notes_label.isHidden() and "2 of 24 rows dropped" in dialog.notes_label.text()
    _check(qtbot, dialog, dialog.label_column, "score")  # a refused mapping (continuous) shows no stale notes
    assert dialog.notes == () and dialog.notes_label.isHidden()


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


def _map_reviews(qtbot, window, path):
    """Map ``path`` in the window's panel: text ``review``, second text ``title``, label ``sentiment``."""
    panel = window.data_panel
    dialog = _open(qtbot, panel, path)
    _check(qtbot, dialog, dialog.label_column, "sentiment")
    _check(qtbot, dialog, dialog.pair_column, "title")
    with qtbot.waitSignal(panel.dataAccepted, timeout=WAIT_MS):
        dialog.ok_button.click()


def _window_again(qtbot, window):
    from studio.main_window import MainWindow

    again = MainWindow(settings=window.settings, store=window.store)
    qtbot.addWidget(again)
    return again


def _pick(panel, source):
    """Pick ``source`` in the data list as a user would (the list changes, then ``activated``)."""
    box = panel.data_box
    index = box.findData(source)
    assert index >= 0, f"{source} is not offered"
    box.setCurrentIndex(index)
    box.activated.emit(index)


def test_a_recent_data_file_reopens_with_the_columns_chosen_for_it(qtbot, window, reviews_csv):
    _map_reviews(qtbot, window, reviews_csv)
    assert window.settings.data_mapping(str(reviews_csv)) == {
        "text_column": "review", "text_pair_column": "title", "label_column": "sentiment"}
    again = _window_again(qtbot, window)
    assert again.recipe().data.source == "default"  # offered, not chosen
    with qtbot.waitSignal(again.data_panel.dataAccepted, timeout=WAIT_MS):
        _pick(again.data_panel, str(reviews_csv))
    ref = again.recipe().data
    assert (ref.source, ref.text_column, ref.text_pair_column, ref.label_column) == (
        str(reviews_csv), "review", "title", "sentiment")
    assert again.data_panel.mapping_dialog is None  # no question asked
    assert "chosen last time" in again.data_panel.status.text()
    assert again.run_action.isEnabled()
    again.controller.shutdown()


def test_a_recent_file_whose_columns_changed_opens_the_mapping_dialog_and_cancel_keeps_the_data(
        qtbot, window, reviews_csv):
    _map_reviews(qtbot, window, reviews_csv)
    text = reviews_csv.read_text().replace("review,sentiment,score,title", "review,polarity,score,title", 1)
    reviews_csv.write_text(text)
    again = _window_again(qtbot, window)
    panel = again.data_panel
    _pick(panel, str(reviews_csv))
    qtbot.waitUntil(lambda: panel.mapping_dialog is not None, timeout=WAIT_MS)
    dialog = panel.mapping_dialog
    with qtbot.waitSignal(dialog.checked, timeout=WAIT_MS):
        pass
    assert dialog.isVisible() and "polarity" in dialog.columns
    # It starts from what still matches: the text and second text columns survived the change.
    assert dialog.text_column.currentText() == "review" and dialog.pair_column.currentData() == "title"
    assert "sentiment" in panel.status.text()  # why it asks again
    dialog.reject()
    assert panel.data_box.currentData() == "default" and again.recipe().data.source == "default"
    again.controller.shutdown()
