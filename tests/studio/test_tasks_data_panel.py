"""The data panel per task (issue 21 part 6; issue 23 items 1.1 and 1.12): the task chosen or detected from the
model folder, a contradicting choice refused, each task's data read, the recipe carrying ``task:``, the default
data's own columns again, columns checked before Run, a one-column file named, combo boxes not cut."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples" / "tasks"
WAIT_MS = 30_000
NER_TAGS = ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER"]


@pytest.fixture(scope="module")
def token_folder(tmp_path_factory):
    """A tiny random BertForTokenClassification with the example file's tags, saved as a model folder."""
    from transformers import BertForTokenClassification

    from core.models.loading import load_tokenizer, tiny_config

    path = tmp_path_factory.mktemp("ner-model")
    config = tiny_config(len(NER_TAGS), id2label=dict(enumerate(NER_TAGS)),
                         label2id={t: i for i, t in enumerate(NER_TAGS)})
    BertForTokenClassification(config).save_pretrained(path)
    load_tokenizer("tiny").save_pretrained(path)
    return path


@pytest.fixture
def panel(qtbot, dialogs):
    from studio.widgets.model_data_panel import ModelDataPanel

    widget = ModelDataPanel()
    qtbot.addWidget(widget)
    return widget


def _idle(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)


def test_a_token_classification_folder_sets_the_task_shown_as_detected(qtbot, panel, token_folder):
    assert panel.task_box.currentData() == "sequence-classification"
    assert "no task head" in panel.task_note
    panel.choose_model_folder(str(token_folder))
    _idle(qtbot, panel)
    assert panel.recipe_model.recipe.model.source == str(token_folder)
    assert panel.task_box.currentData() == "token-classification"
    assert panel.recipe_model.recipe.task == "token-classification"
    assert "Detected from the model folder" in panel.task_note
    assert "BertForTokenClassification" in panel.task_note and panel.task_box.toolTip() == panel.task_note
    assert panel.form_label_text(panel.task_box) == "Task (detected)"
    # The task's own rows show (the tag column, the word-piece choice), the sentence columns do not.
    assert not panel.tag_column.isHidden() and not panel.label_pieces.isHidden()
    assert panel.text_column.isHidden() and panel.label_column.isHidden()


def test_a_task_that_contradicts_the_folder_is_refused_with_both_named(qtbot, panel, dialogs, token_folder):
    panel.choose_model_folder(str(token_folder))
    _idle(qtbot, panel)
    assert panel.choose_task("regression") is False
    title, message, _ = dialogs.errors[-1]
    assert "regression" in message and "token-classification" in message and "BertForTokenClassification" in message
    assert panel.recipe_model.recipe.task == "token-classification"
    assert panel.task_box.currentData() == "token-classification"
    # A model without a task head takes any task.
    panel.model_box.setCurrentIndex(panel.model_box.findData("tiny"))
    assert panel.choose_task("regression") is True
    assert panel.recipe_model.recipe.task == "regression" and "no task head" in panel.task_note


def test_token_data_reads_with_its_tags_and_the_first_piece_choice_into_the_recipe(qtbot, panel, token_folder):
    panel.choose_model_folder(str(token_folder))
    _idle(qtbot, panel)
    assert any(p.field == "data.source" for p in panel.recipe_model.problems)  # review sentences are no tags
    accepted = []
    panel.dataAccepted.connect(accepted.append)
    assert panel.map_data_source(str(EXAMPLES / "ner.conll")) is None  # no columns to map: read as CoNLL
    qtbot.waitUntil(lambda: bool(accepted), timeout=WAIT_MS)
    assert "320 sentences, 7 tags" in panel.status.text()
    assert "IOB2" in panel.tags_label.text() and "B-PER" in panel.tags_label.text()
    assert "first piece" in panel.tags_label.text()
    panel.label_pieces.setCurrentIndex(panel.label_pieces.findData("all"))
    assert panel.recipe_model.recipe.data.label_pieces == "all" and "every piece" in panel.tags_label.text()
    recipe = panel.recipe_model.recipe.to_dict()
    assert recipe["task"] == "token-classification" and recipe["data"]["source"].endswith("ner.conll")
    assert not [p for p in panel.recipe_model.problems if p.field and p.field.startswith(("task", "data"))]
    # The tags file is no table of sentences: another task on it is a problem before Run.
    panel.model_box.setCurrentIndex(panel.model_box.findData("tiny"))
    assert panel.choose_task("sequence-classification")
    problems = [p.message for p in panel.recipe_model.problems if p.field == "data.source"]
    assert problems and "read as token-classification data" in problems[0]


def test_a_bad_token_file_is_refused_and_the_data_kept(qtbot, panel, dialogs, tmp_path):
    panel.choose_task("token-classification")
    bad = tmp_path / "bad.conll"
    bad.write_text("Alice B-PER\nlives\n")
    panel.map_data_source(str(bad))
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=WAIT_MS)
    assert "bad.conll" in dialogs.errors[-1][1] + dialogs.errors[-1][2]
    assert panel.recipe_model.recipe.data.source == "default"


def test_switching_back_to_default_resets_the_columns_and_checks_them_before_run(qtbot, panel, tmp_path):
    from core.recipe import DataRef

    csv = tmp_path / "reviews.csv"
    csv.write_text("sentence,is_positive\n" + "".join(f"row {i} good,{i % 2}\n" for i in range(20)))
    panel.apply_mapping(DataRef(source=str(csv), text_column="sentence", label_column="is_positive"),
                        ["sentence", "is_positive"])
    assert panel.recipe_model.recipe.data.text_column == "sentence"
    panel.data_box.setCurrentIndex(panel.data_box.findData("default"))
    panel.data_box.activated.emit(panel.data_box.currentIndex())  # as a click in the list does
    data = panel.recipe_model.recipe.data
    assert (data.source, data.text_column, data.label_column, data.text_pair_column) == ("default", "text", "label",
                                                                                        None)
    assert panel.text_column.currentText() == "text" and panel.label_column.currentText() == "label"
    assert not [p for p in panel.recipe_model.problems if p.field and p.field.startswith("data")]
    # A column the chosen data lacks is a problem before Run, naming the data's columns.
    panel.label_column.setCurrentText("is_positive")
    problems = [p for p in panel.recipe_model.problems if p.field == "data.label_column"]
    assert problems and "'is_positive'" in problems[0].message and "'text', 'label'" in problems[0].message


def test_a_one_column_csv_says_a_label_column_is_needed(qtbot, panel, tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("text\n" + "".join(f"sentence {i}\n" for i in range(12)))
    panel.choose_data_file(str(one))  # picked straight from the list: checked before Run
    qtbot.waitUntil(lambda: panel.recipe_model.recipe.data.source == str(one), timeout=WAIT_MS)
    problems = [p.message for p in panel.recipe_model.problems if p.field == "data.label_column"]
    assert problems == ["this file has one column ('text'); a label column is needed"]
    dialog = panel.map_data_source(str(one))
    qtbot.waitUntil(lambda: bool(dialog.columns and dialog.error), timeout=WAIT_MS)
    assert dialog.error == "this file has one column; a label column is needed"
    assert not dialog.ok_button.isEnabled()


def test_multi_label_columns_are_ticked_and_counted_in_the_mapping_dialog(qtbot, panel):
    panel.choose_task("multi-label")
    assert panel.form_label_text(panel.label_column) == "Label list column"
    dialog = panel.map_data_source(str(EXAMPLES / "multilabel.csv"))
    qtbot.waitUntil(lambda: dialog.valid, timeout=WAIT_MS)
    assert dialog.data_ref().label_columns == ["sports", "music", "food", "travel", "technology"]
    assert set(dialog.counts) == {"sports", "music", "food", "travel", "technology"} and dialog.counts["food"] > 0
    dialog.accept()
    assert panel.recipe_model.recipe.data.label_columns == ["sports", "music", "food", "travel", "technology"]
    assert panel.label_columns.text() == "sports, music, food, travel, technology"


def test_regression_maps_a_score_column(qtbot, panel):
    panel.choose_task("regression")
    dialog = panel.map_data_source(str(EXAMPLES / "regression.csv"))
    qtbot.waitUntil(lambda: dialog.valid, timeout=WAIT_MS)
    assert dialog.label_column.currentText() == "score"
    assert dialog.counts["rows"] == 300 and 1.0 <= dialog.counts["lowest"] < dialog.counts["highest"] <= 5.0
    assert "rows: 300" in dialog.counts_label.text()


def test_combo_boxes_do_not_cut_their_text(qtbot, panel):
    from tests.studio.conftest import shown

    shown(qtbot, panel, 420, 900)
    for box in (panel.model_box, panel.data_box, panel.device_box, panel.task_box):
        metrics = box.fontMetrics()
        widest = max(metrics.horizontalAdvance(box.itemText(i)) for i in range(box.count()))
        assert box.width() >= widest + 20, (box.currentText(), box.width(), widest)


def test_the_inspector_names_the_task_and_its_head(qtbot, token_folder):
    from studio.dialogs.inspector import ModelInspector
    from studio.widgets.source_checks import check_model_source

    info = check_model_source(str(token_folder))
    inspector = ModelInspector(info)
    qtbot.addWidget(inspector)
    text = inspector.task_label.text()
    assert "token-classification: BertForTokenClassification, 7 outputs (O, B-LOC" in text
    tiny = ModelInspector(check_model_source("tiny"))
    qtbot.addWidget(tiny)
    assert "no task head" in tiny.task_label.text()


def test_a_saved_model_names_the_head_it_was_trained_with():
    from core.models.architecture import describe
    from core.models.loading import load_model

    state = load_model("tiny", 1, task="regression")
    head = describe(state.model)["head"]
    assert head["task"] == "regression" and head["head"] == "BertForSequenceClassification" and head["outputs"] == 1


def test_the_window_runs_only_a_recipe_whose_task_data_and_columns_fit(qtbot, window, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    from core.recipe import Step

    window.stack.set_steps([Step("finetune", {"max_steps": 2})])
    window.update_validity()
    assert window.run_action.isEnabled()
    panel = window.data_panel
    panel.task_box.setCurrentIndex(panel.task_box.findData("token-classification"))
    panel.task_box.activated.emit(panel.task_box.currentIndex())  # as a click in the list does
    assert window.recipe().task == "token-classification"
    window.update_validity()
    assert not window.run_action.isEnabled()  # the review sentences are no tagged words
    # The file dialog offers the task's formats, starting at the example files the first time.
    seen = {}

    def pick(parent, title, folder, filters):
        seen.update(title=title, folder=folder, filters=filters)
        return str(EXAMPLES / "ner.conll"), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", pick)
    panel.folders = None
    qtbot.mouseClick(panel.data_browse, Qt.MouseButton.LeftButton)
    assert "*.conll" in seen["filters"] and seen["folder"].endswith("examples/tasks")
    qtbot.waitUntil(lambda: panel.recipe_model.recipe.data.source.endswith("ner.conll"), timeout=WAIT_MS)
    window.update_validity()
    assert window.run_action.isEnabled()
    assert window.recipe().to_dict()["task"] == "token-classification"


def test_token_json_lines_named_json_are_read_too(qtbot, panel, tmp_path):
    import json

    rows = [{"tokens": ["Ana", "lives", "in", "Porto"], "tags": ["B-PER", "O", "O", "B-LOC"]}] * 12
    path = tmp_path / "tags.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    panel.choose_task("token-classification")
    accepted = []
    panel.dataAccepted.connect(accepted.append)
    panel.map_data_source(str(path))
    qtbot.waitUntil(lambda: bool(accepted), timeout=WAIT_MS)
    assert "12 sentences, 3 tags" in panel.status.text()


def test_questions_read_as_squad_with_their_window_settings(qtbot, panel):
    panel.choose_task("question-answering")
    assert not panel.doc_stride.isHidden() and not panel.null_threshold.isHidden() and panel.text_column.isHidden()
    accepted = []
    panel.dataAccepted.connect(accepted.append)
    panel.map_data_source(str(EXAMPLES / "qa_squad_v2.json"))
    qtbot.waitUntil(lambda: bool(accepted), timeout=WAIT_MS)
    assert "300 questions, 97 of them unanswerable" in panel.status.text()
    panel.null_threshold.setValue(1.5)
    panel.doc_stride.setValue(32)
    data = panel.recipe_model.recipe.data
    assert (data.null_threshold, data.doc_stride) == (1.5, 32)


def test_an_opened_recipe_columns_are_checked_against_its_file(qtbot, panel, tmp_path):
    from core.recipe import DataRef, Recipe

    csv = tmp_path / "opened.csv"
    csv.write_text("review,stars\n" + "".join(f"text {i},{i % 2}\n" for i in range(12)))
    recipe = Recipe(data=DataRef(source=str(csv), text_column="sentence", label_column="stars"))
    panel.recipe_model.set_recipe(recipe)
    problems = [p for p in panel.recipe_model.problems if p.field == "data.text_column"]
    assert problems and "'sentence' is not in the data; it has 'review', 'stars'" in problems[0].message
