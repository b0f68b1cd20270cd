"""SQuAD v2's no-answer threshold: chosen on the validation split for each model, applied to the figures recorded,
and named among them (issue 21)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.recipe import DataRef

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = Path(__file__).parents[3] / "resources" / "examples" / "tasks"
REF = DataRef(str(EXAMPLES / "qa_squad_v2.json"), max_length=128, doc_stride=32, train_samples=48,
              validation_samples=24, test_samples=24)


@pytest.fixture(scope="module")
def qa():
    from core.data.task import prepare_task
    from core.models.loading import load_model, load_tokenizer

    task = prepare_task(REF, load_tokenizer("tiny"), "question-answering")
    state = load_model("tiny", 2, task="question-answering", seed=3)
    return task, state.model


def test_the_threshold_is_chosen_on_validation_not_taken_from_the_recipe(qa):
    from core.engine.task_metrics import _limited, _outputs, choose_null_threshold, evaluate_task

    task, model = qa
    assert task.unanswerable and any(not a["text"] for a in task.raw["validation"]["answers"])
    features, raw = _limited(task, "validation", None)
    chosen, was_chosen = choose_null_threshold(task, features, raw, _outputs(model, task, features, 8)[0], REF)
    assert was_chosen
    figures = []
    for recipe_threshold in (-50.0, 50.0):  # never answer / always answer, were the recipe's value applied
        measured = evaluate_task(model, task, "test", 8, dataclasses.replace(REF, null_threshold=recipe_threshold),
                                 intervals=True)
        results = measured.scored.results()
        assert results["null_threshold"] == pytest.approx(chosen)  # the run's figures say which threshold
        figures.append({k: results[k] for k in ("answer_f1", "exact_match")})
    assert figures[0] == figures[1]


def test_the_threshold_applied_is_the_one_that_scores_the_test_split(qa):
    from core.engine.task_metrics import _limited, _outputs, evaluate_task
    from core.tasks.metrics.qa import question_rows, figures_of
    from core.tasks.qa_spans import best_answers

    task, model = qa
    measured = evaluate_task(model, task, "test", 8, REF)
    features, raw = _limited(task, "test", None)
    outputs = _outputs(model, task, features, 8)[0]
    answers = best_answers(list(raw), features, [o[0] for o in outputs], [o[1] for o in outputs],
                           n_best=REF.n_best, max_answer_length=REF.max_answer_length,
                           null_threshold=measured.figures["null_threshold"])
    rows = question_rows({k: a.text for k, a in answers.items()}, {e["id"]: list(e["answers"]["text"]) for e in raw})
    assert measured.figures["answer_f1"] == pytest.approx(figures_of(rows)["answer_f1"])


def test_without_unanswerable_validation_questions_the_recipes_threshold_stands(qa):
    from core.engine.task_metrics import _limited, _outputs, choose_null_threshold

    task, model = qa
    features, raw = _limited(task, "validation", None)
    answerable = [i for i, a in enumerate(raw["answers"]) if a["text"]]
    raw = raw.select(answerable)
    kept = set(raw["id"])
    features = features.select([i for i, e in enumerate(features["_example_id"]) if e in kept])
    outputs = _outputs(model, task, features, 8)[0]
    assert choose_null_threshold(task, features, raw, outputs, dataclasses.replace(REF, null_threshold=1.5)) == (1.5,
                                                                                                                False)


def test_the_threshold_is_a_figure_with_a_label():
    from core.metrics.figures import label, spec

    assert spec("null_threshold") is not None and label("null_threshold") == "No-answer threshold"
