"""The studio's views of runs of every task (issue 21 part 6): the prediction preview shows the teacher and the
compressed model side by side, and nothing names accuracy for a task that has none."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PySide6.QtCore import Qt

from core.recipe import DataRef, ModelRef, Recipe, Step
from core.services.predictions import Example
from studio.widgets.prediction_preview import PredictionPreview, example_html
from tests.studio.conftest import stored_runs

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples" / "tasks"
WAIT_MS = 60_000
NER = DataRef(source=str(EXAMPLES / "ner.conll"), train_samples=12, validation_samples=6, test_samples=6)


def _tagger(task, tag: str):
    """The tiny token tagger with a head that says ``tag`` for every word."""
    from core.models.loading import load_model

    state = load_model("tiny", task.num_labels, label_names=task.label_names, task="token-classification")
    with torch.no_grad():
        state.model.classifier.weight.zero_()
        state.model.classifier.bias.copy_(torch.tensor([9.0 if n == tag else 0.0 for n in task.label_names]))
    return state


@pytest.fixture(scope="module")
def ner_task():
    from core.data.task import prepare_task
    from core.models.loading import load_tokenizer

    return prepare_task(NER, load_tokenizer("tiny"), "token-classification")


@pytest.fixture(scope="module")
def compressed_folder(tmp_path_factory, ner_task):
    """A run's final checkpoint: the tiny tagger saying O for every word."""
    from core.models.checkpoint import save_checkpoint

    return save_checkpoint(_tagger(ner_task, "O"), tmp_path_factory.mktemp("run") / "final")


def _record(folder, recipe: Recipe, name: str = "ner-tiny"):
    return SimpleNamespace(id="abcdef0123", name=name, recipe=recipe.to_dict(), results={}, device="cpu",
                           artifacts=[SimpleNamespace(kind="final", path=str(folder))])


def _show(qtbot, record):
    preview = PredictionPreview(lambda run_id: record)
    qtbot.addWidget(preview)
    preview.set_run(record.id)
    qtbot.mouseClick(preview.show_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(preview.examples or preview.error), timeout=WAIT_MS)
    assert not preview.error
    return preview


def _rows(preview) -> list[str]:
    return [line.split("\t")[0].strip() for line in preview.view.toPlainText().splitlines() if line.strip()]


def test_the_preview_shows_the_teacher_and_the_compressed_model_side_by_side(qtbot, compressed_folder, ner_task):
    """No training before compression: the teacher is the recipe's model as loaded (same seed, same head)."""
    from core.models.loading import load_model
    from core.services.predictions import examples_of

    record = _record(compressed_folder, Recipe(task="token-classification", model=ModelRef("tiny"), data=NER))
    preview = _show(qtbot, record)
    teacher = load_model("tiny", ner_task.num_labels, seed=0, label_names=ner_task.label_names,
                         task="token-classification")
    expected = examples_of(teacher.model, ner_task, NER, count=5)
    assert [e.predicted_tags for e in preview.teacher] == [e.predicted_tags for e in expected]
    assert [e.text for e in preview.teacher] == [e.text for e in preview.examples]
    right_t, right_c = sum(e.correct for e in expected), sum(e.correct for e in preview.examples)
    assert f"teacher {right_t}/5 right, compressed {right_c}/5" in preview.title.text()
    rows = _rows(preview)
    assert {"word", "gold", "teacher", "compressed"} <= set(rows)
    assert rows.index("gold") < rows.index("teacher") < rows.index("compressed")


def test_a_teacher_whose_folder_is_gone_leaves_the_compressed_side_alone_with_the_reason(
        qtbot, compressed_folder, tmp_path):
    gone = tmp_path / "teacher-folder"
    record = _record(compressed_folder, Recipe(task="token-classification", model=ModelRef(str(gone)), data=NER))
    preview = _show(qtbot, record)
    assert len(preview.examples) == 5 and preview.teacher is None
    title = preview.title.text()
    assert "the teacher is not shown" in title and str(gone) in title and "teacher" not in _rows(preview)


def test_a_fine_tuned_teacher_comes_from_the_step_cache(qtbot, compressed_folder, ner_task, db_url):
    """Fine-tuning before compression makes the teacher; only the step cache keeps it, under the run's key."""
    from core.engine.cache import StepCache

    recipe = Recipe(task="token-classification", model=ModelRef("tiny"), data=NER,
                    steps=[Step("finetune", {"max_steps": 1}), Step("prune.magnitude", {"sparsity": 0.5})])
    record = _record(compressed_folder, recipe)
    preview = _show(qtbot, record)  # nothing cached yet: the compressed model alone, and why
    assert preview.teacher is None and "after step 1" in preview.title.text()
    cache = StepCache.for_database(db_url)
    key = cache.key_for(recipe, 1, "cpu")
    meta = {"steps": 1, "methods": ["finetune"], "origins": ["r1"], "baseline_steps": 1, "baseline_key": key,
            "global_step": 1, "summaries": [{}]}
    state = _tagger(ner_task, "B-LOC")
    assert cache.store(key, state, meta, {"cpu": torch.random.get_rng_state()}) is not None
    preview.load()
    qtbot.waitUntil(lambda: preview.teacher is not None or bool(preview.error), timeout=WAIT_MS)
    assert all(set(e.predicted_tags) == {"B-LOC"} for e in preview.teacher)
    assert all(set(e.predicted_tags) == {"O"} for e in preview.examples)


def test_both_answers_are_highlighted_in_their_context_in_different_colours():
    context = "Ana was born in Porto. Rui lives in Lisbon."
    compressed = Example("question-answering", "Where was Ana born?", "Porto", "Lisbon", False, context=context,
                         span=(36, 42), gold_spans=((16, 21),))
    teacher = Example("question-answering", "Where was Ana born?", "Porto", "Porto", True, context=context,
                      span=(16, 21), gold_spans=((16, 21),))
    html = example_html(compressed, teacher)
    assert 'background:#fde68a">Lisbon</span>' in html  # the compressed model's answer
    assert 'background:#bfdbfe"><u style="color:#2563eb">Porto</u></span>' in html  # the teacher's, on the gold
    assert "<b>teacher:</b> Porto" in html and "<b>compressed:</b> Lisbon" in html
    scores = example_html(Example("regression", "Bland.", "2.2", "2.6", True, score=2.6, target=2.2),
                          Example("regression", "Bland.", "2.2", "2.3", True, score=2.3, target=2.2))
    assert "<b>teacher:</b> 2.3" in scores and "<b>compressed</b> 2.6" in scores and "<b>target</b> 2.2" in scores
    labels = example_html(Example("multi-label", "The band played.", "music", "music, food", False),
                          Example("multi-label", "The band played.", "music", "music", True))
    assert "<b>teacher:</b> music &nbsp;" in labels and "<b>compressed:</b> music, food" in labels


# -- the Study view of a token-classification study names entity F1, not accuracy ---------------------------------
@pytest.fixture
def pareto(qtbot):
    """A Pareto plot kept alive until the test's events are processed, then deleted from the C++ side first: a
    plot dropped with the test's locals is freed by the cycle collector, which clears its labels' attributes
    while Qt still lays them out (pyqtgraph's LabelItem then fails in sizeHint)."""
    from studio.study.pareto_plot import ParetoPlot

    plot = ParetoPlot()
    yield plot
    plot.close()
    plot.deleteLater()
    qtbot.wait(10)


def test_the_study_views_of_a_token_study_name_entity_f1(qtbot, pareto):
    from studio.study.interaction_table import InteractionTable
    from studio.study.trials_table import TrialsTable
    from tests.core.test_tasks_study_headline import token_order_report

    report = token_order_report()
    table = InteractionTable()
    qtbot.addWidget(table)
    table.show_pairs([], headline=report.headline)  # before any pair has run: already the study's figure
    assert table.horizontalHeaderItem(3).text() == "Entity F1 drop" and "baseline Entity F1" in table.toolTip()
    table.show_pairs(report.interaction, headline=report.headline)
    alone = [table.item(r, 3).text() for r in range(table.rowCount()) if table.item(r, 0).text() == "A alone"]
    assert alone == ["+2.0 pts \u00b1 1.0"]
    pareto.show_report(report)
    item = pareto.getPlotItem()
    assert item.getAxis("left").labelText == "Entity F1 retained" and "Entity F1 retained" in item.titleLabel.text
    trials = TrialsTable()
    qtbot.addWidget(trials)
    trials.show_trials(report.trials, report.best, report.retained)
    assert trials.horizontalHeaderItem(4).text() == "Entity F1 retained"
    assert trials.item(0, 4).text() == "97.50 %"  # read from entity_f1_retained, not an empty accuracy_retained


# -- saved runs of a token-classification recipe: the list, the details and the comparison name entity F1 ---------
TOKEN_RESULTS = {"entity_f1": 0.712, "entity_f1_low": 0.69, "entity_f1_high": 0.73, "baseline_entity_f1": 0.74,
                 "entity_f1_retained": 0.962, "token_accuracy": 0.93, "speedup": 1.8, "size_ratio": 2.0,
                 "size_bytes": 8e6}


def record_token_run(url: str, results: dict, f1_curve: tuple[float, ...] = (), name: str = "ner") -> str:
    """A token-classification run written through the real recorder, with its validation entity F1 curve."""
    import uuid

    from core import events as ev
    from core.db import Recorder, open_database

    run_id = uuid.uuid4().hex
    recipe = Recipe(name=name, task="token-classification", model=ModelRef("tiny"), data=NER,
                    steps=[Step("finetune", {"max_steps": 4})])
    bus = ev.EventBus()
    with open_database(url) as db, Recorder(db, bus):
        bus.publish(ev.RunStarted(run_id, recipe=recipe.to_dict(), device="cpu", step_titles=("fine-tune",)))
        for step, value in enumerate(f1_curve, start=1):
            bus.publish(ev.Metric(run_id, key="val/entity_f1", value=value, step=step, index=0))
        bus.publish(ev.RunFinished(run_id, results=results))
    return run_id


def test_the_saved_runs_list_names_each_runs_headline_figure_and_sorts_by_it(qtbot, db_url):
    from studio.runs_store import DatabaseRunsStore
    from studio.widgets.runs_list import COLUMNS, RunsList
    from tests.studio.conftest import quick_recipe, record_run

    token = record_token_run(db_url, TOKEN_RESULTS)
    weaker = record_token_run(db_url, {**TOKEN_RESULTS, "entity_f1": 0.5, "baseline_entity_f1": 0.6}, name="weak")
    sentences = record_run(db_url, quick_recipe(), {"accuracy": 0.8, "baseline_accuracy": 0.82, "speedup": 2.0})
    store = DatabaseRunsStore(db_url)
    runs = RunsList(store)
    qtbot.addWidget(runs)
    runs.refresh()
    headline, baseline = COLUMNS.index("Headline"), COLUMNS.index("Baseline")
    header = runs.table.horizontalHeaderItem(headline)
    assert header.text() == "Headline" and "Entity F1 (token classification)" in header.toolTip()
    cell = lambda run_id, column: runs.table.item(runs.run_ids().index(run_id), column).text()  # noqa: E731
    # Runs of several tasks: each cell names its figure.
    assert cell(token, headline) == "Entity F1 71.2 %" and cell(token, baseline) == "74.0 %"
    assert cell(sentences, headline) == "Accuracy 80.0 %" and cell(sentences, baseline) == "82.0 %"
    # The score column's geomean reads the token run's entity F1 retained (it has no accuracy_retained).
    assert cell(token, COLUMNS.index("Score")) == f"{(0.962 * 1.8 * 2.0) ** (1 / 3):.4g}"
    runs.sort_by(headline)  # highest first
    assert runs.run_ids() == [sentences, token, weaker]
    runs.sort_by(headline)
    assert runs.run_ids() == [weaker, token, sentences]
    store.delete_run(sentences)
    runs.refresh()  # token runs only: the header names the figure, the cells hold its values
    assert header.text() == "Entity F1 \u25b4" and cell(token, headline) == "71.2 %"  # still sorted by it
    store.close()


def test_a_saved_token_runs_curve_and_figures_are_named_after_entity_f1(qtbot, db_url):
    from studio.widgets.run_details import RunDetails

    curved = record_token_run(db_url, TOKEN_RESULTS, f1_curve=(0.2, 0.5, 0.7))
    bare = record_token_run(db_url, TOKEN_RESULTS, name="bare")
    (record, without), series = stored_runs(db_url, curved, bare)
    details = RunDetails()
    qtbot.addWidget(details)
    details.show_run(record, series[curved])
    item = details.plots["accuracy"].getPlotItem()
    assert item.titleLabel.text == "Entity F1" and item.getAxis("left").labelText == "Entity F1"
    assert [c.name() for c in item.listDataItems()] == ["validation Entity F1"]
    groups = [details.results.item(r, 0).text() for r in range(details.results.rowCount())
              if details.results.columnSpan(r, 0) == 2]
    assert groups[0] == "Quality" and "Accuracy" not in groups
    details.show_run(without, {})
    assert "No Entity F1 was recorded" in details.hints["accuracy"].text()


def test_comparing_token_runs_names_entity_f1(qtbot, db_url):
    from studio.widgets.run_compare import RunComparison

    ids = [record_token_run(db_url, TOKEN_RESULTS, f1_curve=(0.3, 0.6), name=n) for n in ("a", "b")]
    records, series = stored_runs(db_url, *ids)
    comparison = RunComparison()
    qtbot.addWidget(comparison)
    comparison.show_runs(records, series)
    assert comparison.curves["accuracy"].getPlotItem().titleLabel.text == "Entity F1"
    assert comparison.results.horizontalHeaderItem(1).text() == "Entity F1"
    # Two entity F1s whose bootstrap intervals overlap differ by less than the noise, in entity F1's words.
    note = comparison.noise_note.text()
    assert note.startswith("a (") and note.endswith("differ in Entity F1 by less than the noise (71.2 % and 71.2 %).")


def test_token_runs_whose_entity_f1_intervals_part_are_not_called_ties():
    from studio.compare import accuracy_ties

    far = {**TOKEN_RESULTS, "entity_f1": 0.5, "entity_f1_low": 0.45, "entity_f1_high": 0.55}
    assert accuracy_ties(["a", "b"], [TOKEN_RESULTS, far]) == []
    regression = {"pearson": 0.80, "pearson_low": 0.7, "pearson_high": 0.9}
    assert accuracy_ties(["r", "s"], [regression, dict(regression, pearson=0.82)]) == [
        "r and s differ in Pearson r by less than the noise (0.800 and 0.820)"]


def test_the_export_report_shows_the_tasks_headline_for_export_model_and_original():
    from core.export.verify import ExportReport, agreement_measure
    from core.models.heads import TOKEN
    from studio.dialogs.export_dialog import report_html

    report = ExportReport(format="onnx-int8", path="/x", verified=True, tolerance="t", max_abs_diff=0.1,
                          argmax_agreement=0.95, rows=32, size_bytes=1, weights_bytes=1, task=TOKEN,
                          agreement_measure=agreement_measure(TOKEN), headline="entity_f1", headline_export=0.81,
                          headline_model=0.81, headline_original=0.83, headline_examples=24)
    html = report_html(report)
    assert "<b>Entity F1</b></td><td>&nbsp;export 81.00 %, model 81.00 %, original 83.00 % (24 validation" in html
    assert "sentences" not in html and "accuracy" not in html.lower()


def test_a_study_set_up_on_a_token_recipe_scores_entity_f1_retained(qtbot):
    """The Study form's default score (and every built-in) reads the template's retained figure: on a token recipe
    "accuracy_retained" was refused as another task's figure, and a geomean weighed a figure its runs lack."""
    from studio.study.spec_builder import SCORES
    from studio.study.study_setup import StudySetup

    recipe = Recipe(task="token-classification", model=ModelRef("tiny"), data=NER,
                    steps=[Step("finetune", {"max_steps": 1}), Step("prune.magnitude", {"sparsity": 0.5}),
                           Step("prune.heads", {})])
    setup = StudySetup()
    qtbot.addWidget(setup)
    setup.set_template(recipe)
    setup.set_kind("order")
    setup.check_steps(setup.order_steps, [2, 3])
    labels = [setup.score.itemText(i) for i in range(setup.score.count())]
    assert labels[0] == "Entity F1 retained" and not any("ccuracy" in label for label in labels)
    assert "entity_f1_retained >= 98 %" in setup.score_box.constraints.placeholderText()
    for kind in [value for _, value in SCORES if value != "formula"]:
        setup.set_score(kind)
        assert setup.problem_list() == [], kind
        objective = setup.spec().objective
        # (the floor's key is spelled min_accuracy_retained in every task; it applies to the task's retained figure)
        assert "accuracy_retained" not in str(objective).replace("min_accuracy_retained", ""), (kind, objective)
    setup.set_score("geomean")
    assert setup.spec().objective["weights"]["entity_f1_retained"] == 1.0


def test_the_study_view_names_a_token_templates_figure_before_any_trial(qtbot, tmp_path, db_url, dialogs):
    from studio.study.study_view import StudyView

    view = StudyView(db_url, workdir_root=tmp_path / "runs")
    qtbot.addWidget(view)
    view.set_template(Recipe(task="token-classification", model=ModelRef("tiny"), data=NER,
                             steps=[Step("finetune", {"max_steps": 1}), Step("prune.heads", {})]))
    assert view.pareto.getPlotItem().getAxis("left").labelText == "Entity F1 retained"
    assert view.trials.horizontalHeaderItem(4).text() == "Entity F1 retained"
    view.shutdown(10)
