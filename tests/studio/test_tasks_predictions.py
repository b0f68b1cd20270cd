"""The prediction preview (issue 21 part 6): a saved run's validation examples with its predictions beside the
gold, in each task's terms; built from a tiny token-classification run's final checkpoint made in code."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PySide6.QtCore import Qt

from core.services.predictions import Example
from studio.widgets.prediction_preview import PredictionPreview, example_html

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples" / "tasks"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def token_run(tmp_path_factory):
    """A run record whose final checkpoint is a tiny token tagger that says B-LOC for every word."""
    from core.data.task import prepare_task
    from core.models.checkpoint import save_checkpoint
    from core.models.loading import load_model, load_tokenizer
    from core.recipe import DataRef, ModelRef, Recipe

    ref = DataRef(source=str(EXAMPLES / "ner.conll"), train_samples=12, validation_samples=6, test_samples=6)
    task = prepare_task(ref, load_tokenizer("tiny"), "token-classification")
    state = load_model("tiny", task.num_labels, label_names=task.label_names, task="token-classification")
    with torch.no_grad():
        state.model.classifier.weight.zero_()
        state.model.classifier.bias.copy_(torch.tensor([9.0 if n == "B-LOC" else 0.0 for n in task.label_names]))
    folder = save_checkpoint(state, tmp_path_factory.mktemp("run") / "final")
    recipe = Recipe(task="token-classification", model=ModelRef("tiny"), data=ref).to_dict()
    return SimpleNamespace(id="abcdef0123", name="ner-tiny", recipe=recipe,
                           artifacts=[SimpleNamespace(kind="final", path=str(folder))]), task


def test_a_saved_token_run_shows_tags_per_word_beside_the_gold(qtbot, token_run):
    record, task = token_run
    preview = PredictionPreview(lambda run_id: record)
    qtbot.addWidget(preview)
    assert not preview.show_button.isEnabled()  # no run yet: the hint says what to do
    preview.set_run(record.id)
    assert preview.show_button.isEnabled() and "abcdef01" in preview.title.text()
    qtbot.mouseClick(preview.show_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(preview.examples or preview.error), timeout=WAIT_MS)
    assert not preview.error
    assert len(preview.examples) == 5 and all(set(e.predicted_tags) == {"B-LOC"} for e in preview.examples)
    first = task.raw["validation"][0]
    text = preview.view.toPlainText()
    assert first["tokens"][0] in text and "compressed" in text and "gold" in text
    assert "ner-tiny: 5 validation examples" in preview.title.text() and "Each word's gold tag" in preview.title.text()


def test_a_run_that_cannot_be_previewed_says_why(qtbot):
    record = SimpleNamespace(id="feedbeef99", name="gone", recipe={"task": "regression"}, artifacts=[])
    preview = PredictionPreview(lambda run_id: record)
    qtbot.addWidget(preview)
    preview.set_run(record.id)
    preview.load()
    qtbot.waitUntil(lambda: bool(preview.error), timeout=WAIT_MS)
    assert "no final checkpoint" in preview.title.text()


def test_each_task_is_drawn_in_its_own_terms():
    qa = Example("question-answering", "Where was Ana born?", "Porto", "Lisbon", False,
                 context="Ana was born in Porto. Rui lives in Lisbon.", span=(36, 42), gold_spans=((16, 21),))
    html = example_html(qa)
    assert 'background:#fde68a">Lisbon</span>' in html and ">Porto</u>" in html
    regression = example_html(Example("regression", "The view was bland.", "2.2", "2.6", True, score=2.6, target=2.2))
    assert "<b>score</b> 2.6" in regression and "<b>target</b> 2.2" in regression
    labels = example_html(Example("multi-label", "The band played.", "music", "music, food", False))
    assert "predicted labels:</b> music, food" in labels and "gold:</b> music" in labels


def test_the_window_offers_the_finished_run_predictions(qtbot, window):
    from core import events as ev

    assert window.predictions.parent() is not None  # in a dock beside the log
    window._run_finished(ev.RunFinished("0123456789", results={"accuracy": 0.5}))
    assert window.predictions.run_id == "0123456789" and window.predictions.show_button.isEnabled()
