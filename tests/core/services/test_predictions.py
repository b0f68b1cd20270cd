"""The prediction preview's examples (core.services.predictions): each task's prediction beside its gold, as the
evaluation reads the model's outputs; checked with tiny heads whose biases force a known prediction."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.recipe import DataRef
from core.services.predictions import examples_of, preview_model
from core.tasks.kinds import TaskKind

EXAMPLES = Path(__file__).resolve().parents[3] / "resources" / "examples" / "tasks"
CAPS = dict(train_samples=12, validation_samples=6, test_samples=6)


def _task_and_model(kind: TaskKind, ref: DataRef):
    from core.data.task import prepare_task
    from core.models.loading import load_model, load_tokenizer

    task = prepare_task(ref, load_tokenizer("tiny"), kind)
    state = load_model("tiny", task.num_labels, label_names=task.label_names, task=kind.value)
    return task, state


def _force(head: torch.nn.Linear, bias: list[float]) -> None:
    """Make ``head`` answer ``bias`` whatever its input."""
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor(bias))


def test_token_tags_are_given_per_word_beside_the_gold():
    ref = DataRef(source=str(EXAMPLES / "ner.conll"), **CAPS)
    task, state = _task_and_model(TaskKind.TOKEN_CLASSIFICATION, ref)
    per = task.label_names.index("B-PER")
    _force(state.model.classifier, [10.0 if i == per else 0.0 for i in range(len(task.label_names))])
    examples = examples_of(state.model, task, ref, count=3)
    assert len(examples) == 3
    for example, row in zip(examples, task.raw["validation"]):
        assert example.kind == "token-classification"
        assert list(example.words) == list(row["tokens"])
        assert list(example.gold_tags) == [task.label_names[t] for t in row["tags"]]
        assert set(example.predicted_tags) == {"B-PER"} and len(example.predicted_tags) == len(example.words)
        assert example.correct is False


def test_regression_scores_are_in_the_data_units_beside_the_target():
    ref = DataRef(source=str(EXAMPLES / "regression.csv"), label_column="score", **CAPS)
    task, state = _task_and_model(TaskKind.REGRESSION, ref)
    _force(state.model.classifier, [3.25])
    examples = examples_of(state.model, task, ref, count=4)
    assert [e.score for e in examples] == pytest.approx([3.25] * 4)
    assert [e.target for e in examples] == pytest.approx([float(v) for v in task.raw["validation"]["label"][:4]])


def test_multi_label_sets_are_the_labels_above_the_threshold():
    columns = ["sports", "music", "food", "travel", "technology"]
    ref = DataRef(source=str(EXAMPLES / "multilabel.csv"), label_columns=columns, **CAPS)
    task, state = _task_and_model(TaskKind.MULTI_LABEL, ref)
    _force(state.model.classifier, [5.0 if name in ("music", "food") else -5.0 for name in task.label_names])
    examples = examples_of(state.model, task, ref, count=3)
    assert {e.predicted for e in examples} == {"music, food"}
    first = task.raw["validation"][0]
    assert examples[0].gold == (", ".join(n for n, v in zip(task.label_names, first["labels"]) if v) or "(none)")


def test_question_answering_spans_point_into_their_context():
    ref = DataRef(source=str(EXAMPLES / "qa_squad_v2.json"), max_length=128, doc_stride=32, null_threshold=100.0,
                  **CAPS)
    task, state = _task_and_model(TaskKind.QUESTION_ANSWERING, ref)
    examples = examples_of(state.model, task, ref, count=4)
    assert len(examples) == 4
    for example, row in zip(examples, task.raw["validation"]):
        assert example.text == row["question"] and example.context == row["context"]
        assert example.span is not None  # a threshold of 100 logits answers every question
        assert example.context[example.span[0]:example.span[1]] == example.predicted
        for start, end in example.gold_spans:
            assert example.context[start:end] in example.gold


def test_a_saved_token_model_is_previewed_on_its_recipe_data(tmp_path):
    from core.models.checkpoint import save_checkpoint
    from core.recipe import Recipe

    ref = DataRef(source=str(EXAMPLES / "ner.conll"), **CAPS)
    task, state = _task_and_model(TaskKind.TOKEN_CLASSIFICATION, ref)
    _force(state.model.classifier, [10.0 if name == "O" else 0.0 for name in task.label_names])
    folder = save_checkpoint(state, tmp_path / "final")
    recipe = Recipe(task="token-classification", data=ref)
    examples = preview_model(str(folder), recipe, count=2)
    assert len(examples) == 2 and all(set(e.predicted_tags) == {"O"} for e in examples)


def test_the_run_chosen_no_answer_threshold_overrides_the_recipes():
    ref = DataRef(source=str(EXAMPLES / "qa_squad_v2.json"), max_length=128, doc_stride=32, null_threshold=100.0,
                  **CAPS)
    task, state = _task_and_model(TaskKind.QUESTION_ANSWERING, ref)
    assert all(e.span is not None for e in examples_of(state.model, task, ref, count=4))
    # the run chose a threshold no span beats: every question is answered "no answer", as its figures counted
    chosen = examples_of(state.model, task, ref, count=4, null_threshold=-1e9)
    assert all(e.span is None and e.predicted == "(no answer)" for e in chosen)
