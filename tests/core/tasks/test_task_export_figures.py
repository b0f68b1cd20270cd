"""Export verification per task: the task's headline figure for the export, its model and the original, and the
agreement measured the task's way, in the report and on the command line (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import events as ev
from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = Path(__file__).parents[3] / "resources" / "examples" / "tasks"
NER = DataRef(str(EXAMPLES / "ner.conll"), max_length=48, train_samples=48, validation_samples=16, test_samples=16)


def ner_recipe() -> Recipe:
    return Recipe(name="tagger", task="token-classification", model=ModelRef("tiny"), data=NER,
                  steps=[Step("finetune")], evaluation=EvaluationSettings(latency_batch_size=4))


@pytest.fixture(scope="module")
def tagger():
    from core.data.task import prepare_task
    from core.models.loading import load_model, load_tokenizer

    task = prepare_task(NER, load_tokenizer("tiny"), "token-classification")
    state = load_model("tiny", task.num_labels, label_names=task.label_names, task="token-classification", seed=1)
    return task, state


def test_an_onnx_export_reports_entity_f1_for_export_model_and_original(tagger, tmp_path):
    from core.engine.task_metrics import evaluate_task
    from core.export.api import export_model
    from core.metrics.latency import fixed_batch
    from core.models.loading import load_model

    task, state = tagger
    original = load_model("tiny", task.num_labels, label_names=task.label_names, task="token-classification", seed=2)
    batch = {k: v for k, v in fixed_batch(task, "validation", 4, NER.max_length).items()
             if k in ("input_ids", "attention_mask", "token_type_ids")}
    report = export_model(state, tmp_path / "onnx", "onnx", reference=original, batch=batch, latency_repeats=1,
                          task=task, data=NER)
    assert report.headline == "entity_f1" and report.headline_examples == len(task.raw["validation"])
    own = evaluate_task(state.model, task, "validation", 32, NER).figures["entity_f1"]
    assert report.headline_model == pytest.approx(own)  # the same figure the run records, on the same examples
    assert report.headline_export == pytest.approx(own, abs=1e-6)  # a float graph: the same tags
    theirs = evaluate_task(original.model, task, "validation", 32, NER).figures["entity_f1"]
    assert report.headline_original == pytest.approx(theirs)
    assert report.agreement_measure.startswith("predicted tag agrees")
    text = report.headline_text()
    assert text.startswith(f"entity F1 on {report.headline_examples} validation examples: export ")
    assert "model" in text and "original" in text and "accuracy" not in text
    assert report.to_dict()["headline"] == "entity_f1"
    assert text in (tmp_path / "onnx" / "README.md").read_text()  # the model card says it too


def test_without_data_the_report_has_no_headline(tagger, tmp_path):
    from core.export.api import export_model

    _, state = tagger
    report = export_model(state, tmp_path / "hf", "hf", latency_repeats=1)
    assert report.headline is None and report.headline_text() is None


def test_the_command_line_prints_the_tasks_figure_and_agreement(tagger, tmp_path, capsys):
    import core.cli as cli
    from core.db import Recorder, open_database
    from core.models.checkpoint import save_checkpoint

    _, state = tagger
    ckpt = save_checkpoint(state, tmp_path / "runs" / "ner" / "final")
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    db, bus, run_id = open_database(url), ev.EventBus(), "7a" * 16
    with Recorder(db, bus):
        bus.publish(ev.RunStarted(run_id=run_id, recipe=ner_recipe().to_dict(), device="cpu", step_titles=()))
        bus.publish(ev.Checkpoint(run_id=run_id, index=0, path=str(ckpt), kind="final"))
        bus.publish(ev.RunFinished(run_id=run_id, results={"entity_f1": 0.5}))
    db.close()
    assert cli.main(["--db", url, "export", run_id[:8], "--format", "onnx-int8", "--out", str(tmp_path / "q")]) == 0
    out = capsys.readouterr().out
    assert "predicted tag agrees (share of non-padding tokens):" in out
    assert "entity F1 on 16 validation examples: export " in out and ", original " in out
    assert "accuracy" not in out.lower()


def test_a_sentence_classifier_export_reports_accuracy(tmp_path):
    from core.data.task import prepare_task
    from core.export.api import export_model
    from core.metrics.accuracy import evaluate_accuracy
    from core.models.loading import load_model, load_tokenizer
    from tests.conftest import tiny_recipe

    recipe = tiny_recipe()
    task = prepare_task(recipe.data, load_tokenizer("tiny"))
    state = load_model("tiny", task.num_labels)
    report = export_model(state, tmp_path / "hf", "hf", latency_repeats=1, task=task, data=recipe.data)
    assert report.headline == "accuracy" and report.headline_examples == len(task.split("validation"))
    measured = evaluate_accuracy(state.model, task.loader("validation", 64))  # the engine's own accuracy
    assert report.headline_export == report.headline_model == pytest.approx(measured["accuracy"])
    assert report.headline_text().startswith(f"accuracy on {report.headline_examples} validation examples: export")
