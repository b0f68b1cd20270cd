"""The five task kinds end to end: recipe, data, head, training, figures, CLI (issue 21's spine)."""

import json
import math
from pathlib import Path

import pytest

from core import events as ev
from core.errors import ModelLoadError, RecipeError
from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = Path(__file__).parents[2] / "resources" / "examples" / "tasks"
TOPICS = ["sports", "music", "food", "travel", "technology"]
CAPS = dict(train_samples=48, validation_samples=12, test_samples=16)
DATA = {
    "token-classification": DataRef(str(EXAMPLES / "ner.conll"), max_length=48, **CAPS),
    "question-answering": DataRef(str(EXAMPLES / "qa_squad_v2.json"), max_length=128, doc_stride=32, **CAPS),
    "regression": DataRef(str(EXAMPLES / "regression.csv"), label_column="score", target_scaling="standard",
                          max_length=32, **CAPS),
    "multi-label": DataRef(str(EXAMPLES / "multilabel.csv"), label_columns=TOPICS, max_length=32, **CAPS),
}
HEADLINES = {"token-classification": "entity_f1", "question-answering": "answer_f1", "regression": "pearson",
             "multi-label": "micro_f1"}
FIGURE_NAMES = {
    "token-classification": {"entity_f1", "entity_precision", "entity_recall", "strict_entity_f1", "token_accuracy"},
    "question-answering": {"answer_f1", "exact_match", "has_answer_f1", "no_answer_f1"},
    "regression": {"pearson", "spearman", "mse"},
    "multi-label": {"micro_f1", "macro_f1", "subset_accuracy"},
}


def task_recipe(task: str, *steps: Step) -> Recipe:
    return Recipe(name=task, task=task, model=ModelRef("tiny"), data=DATA[task], steps=list(steps),
                  evaluation=EvaluationSettings(max_samples=16, latency_repeats=1, latency_batch_size=4))


# -- the recipe ---------------------------------------------------------------------------------------------


def test_a_version_1_recipe_loads_as_sequence_classification_and_saves_as_version_2():
    recipe = Recipe.from_dict({"version": 1, "name": "old", "model": "tiny", "steps": ["finetune"]})
    assert recipe.task == "sequence-classification"
    saved = recipe.to_dict()
    assert saved["version"] == 2 and saved["task"] == "sequence-classification"
    assert Recipe.from_dict(saved).to_dict() == saved


@pytest.mark.parametrize("raw, line", [
    ({"task": "ner"}, "task: must be one of sequence-classification, token-classification"),
    ({"task": "question-answering", "data": {"max_length": 64, "doc_stride": 64}}, "data.doc_stride: must be below "
                                                                                   "max_length (64)"),
    ({"task": "multi-label", "data": {"label_columns": ["sports"]}}, "data.label_columns: needs two or more"),
    ({"data": {"label_pieces": "last"}}, "data.label_pieces: must be one of first, all"),
    ({"data": {"label_threshold": 1.5}}, "data.label_threshold: must be at most 0.99"),
    ({"data": {"target_scaling": "log"}}, "data.target_scaling: must be one of none, standard, minmax"),
    ({"data": {"n_best": 0}}, "data.n_best: must be at least 1"),
])
def test_task_settings_are_typed_and_ranged(raw, line):
    with pytest.raises(RecipeError) as caught:
        Recipe.from_dict(raw)
    assert line in str(caught.value)


# -- data and heads -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tasks():
    from core.data.task import prepare_task
    from core.models.loading import load_tokenizer

    tokenizer = load_tokenizer("tiny")
    return {kind: prepare_task(ref, tokenizer, kind) for kind, ref in DATA.items()}


def test_each_kind_batches_what_its_head_takes(tasks):
    import torch

    token = next(iter(tasks["token-classification"].loader("train", 8)))
    assert token["labels"].shape == token["input_ids"].shape
    assert (token["labels"][token["attention_mask"] == 0] == -100).all()  # padding ignored by the loss
    qa = next(iter(tasks["question-answering"].loader("train", 8)))
    assert set(qa) == {"input_ids", "token_type_ids", "attention_mask", "start_positions", "end_positions"}
    regression = next(iter(tasks["regression"].loader("train", 8)))
    assert regression["labels"].dtype == torch.float32 and regression["labels"].shape == (8,)
    multi = next(iter(tasks["multi-label"].loader("train", 8)))
    assert multi["labels"].dtype == torch.float32 and multi["labels"].shape == (8, len(TOPICS))
    assert tasks["regression"].num_labels == 1 and tasks["multi-label"].label_names == TOPICS


@pytest.mark.parametrize("kind, head, problem", [
    ("token-classification", "BertForTokenClassification", None),
    ("question-answering", "BertForQuestionAnswering", None),
    ("regression", "BertForSequenceClassification", "regression"),
    ("multi-label", "BertForSequenceClassification", "multi_label_classification"),
])
def test_the_head_follows_the_task_and_its_loss_trains(tasks, kind, head, problem):
    from core.models.loading import load_model

    task = tasks[kind]
    state = load_model("tiny", task.num_labels, label_names=task.label_names or None, task=kind)
    assert type(state.model).__name__ == head and state.model.config.problem_type == problem
    batch = next(iter(task.loader("train", 4)))
    loss = state.model(**batch).loss
    assert loss.ndim == 0 and math.isfinite(float(loss.detach()))


def test_a_headless_folder_gets_a_new_qa_head(tmp_path):
    from transformers import BertModel

    from core.models.loading import load_model, load_tokenizer, tiny_config

    BertModel(tiny_config()).save_pretrained(tmp_path)
    load_tokenizer("tiny").save_pretrained(tmp_path)
    state = load_model(str(tmp_path), 2, task="question-answering")
    assert type(state.model).__name__ == "BertForQuestionAnswering"


def _token_folder(folder: Path) -> Path:
    """The issue's reproduction: a fine-tuned BertForTokenClassification with 5 labels."""
    from transformers import BertForTokenClassification

    from core.models.loading import load_tokenizer, tiny_config

    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    BertForTokenClassification(tiny_config(5, id2label=dict(enumerate(names)))).save_pretrained(folder)
    load_tokenizer("tiny").save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["BertForTokenClassification"]
    return folder


def test_a_token_classifier_given_a_sentence_task_is_refused_naming_both(tmp_path):
    from core.models.loading import load_model

    folder = _token_folder(tmp_path / "ner-model")
    with pytest.raises(ModelLoadError) as caught:
        load_model(str(folder), 2, task="sequence-classification")
    message = str(caught.value)
    assert "sequence-classification" in message and "token-classification" in message
    assert "BertForTokenClassification" in message
    load_model(str(folder), 5, task="token-classification")  # its own task loads
    with pytest.raises(ModelLoadError, match="the data has 7 labels"):  # a head with other tags is not replaced
        load_model(str(folder), 7, task="token-classification")


def test_run_and_validate_refuse_the_contradicting_task_with_exit_2_before_training(tmp_path, capsys):
    from core import cli as command

    folder = _token_folder(tmp_path / "ner-model")
    csv = tmp_path / "d.csv"
    csv.write_text("text,label\n" + "".join(f"sentence number {i},{i % 2}\n" for i in range(40)))
    recipe = Recipe(name="wrong-task", model=ModelRef(str(folder)), data=DataRef(str(csv), max_length=16),
                    steps=[Step("finetune", {"max_steps": 1})])
    path = recipe.save(tmp_path / "r.yaml")
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    for argv in (["validate", str(path)], ["--db", db, "run", "--quiet", str(path)]):
        code = command.main(argv)
        err = capsys.readouterr().err
        assert code == 2, err
        assert "sequence-classification" in err and "token-classification" in err
    assert not (tmp_path / "runs.db").exists() or "finished" not in (tmp_path / "runs.db").read_bytes().decode(
        "latin-1")


# -- the engine ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DATA))
def test_finetune_then_int8_ends_with_the_tasks_figures_and_retained(engine, kind):
    from core.cli.format import results_text

    metrics = []
    engine.bus.subscribe(ev.Metric, lambda e: metrics.append(e.key))
    result = engine.run(task_recipe(kind, Step("finetune", {"max_steps": 3, "learning_rate": 5e-3, "batch_size": 8}),
                                    Step("quant.dynamic_int8")))
    assert result.status == "finished", result.error
    res = result.results
    head = HEADLINES[kind]
    for name in FIGURE_NAMES[kind]:
        assert name in res and f"{name}_low" in res and f"{name}_high" in res, name
        assert f"baseline_{name}" in res
    # retained: the task's headline figure against the baseline's (the fine-tuned float model) on the same examples
    base = res[f"baseline_{head}"]
    if base:
        assert res[f"{head}_retained"] == pytest.approx(res[head] / base)
        assert res[f"{head}_retained_low"] <= res[f"{head}_retained"] <= res[f"{head}_retained_high"]
    else:
        assert math.isnan(res[f"{head}_retained"])
    assert not {"accuracy", "baseline_accuracy", "accuracy_retained"} & set(res)
    assert f"val/{head}" in metrics and "val/accuracy" not in metrics
    text = results_text(res)
    assert "Accuracy retained" not in text and "\naccuracy " not in text
    from core.tasks.figures import headline

    assert f"{headline(kind).label} retained" in text


def test_sequence_classification_keeps_accuracy_and_val_accuracy(engine):
    from tests.conftest import tiny_recipe

    metrics = []
    engine.bus.subscribe(ev.Metric, lambda e: metrics.append(e.key))
    result = engine.run(tiny_recipe(Step("finetune", {"max_steps": 2})))
    assert result.status == "finished", result.error
    assert "accuracy" in result.results and "accuracy_retained" in result.results
    assert "val/accuracy" in metrics


def test_the_example_recipes_validate_against_their_data(capsys, monkeypatch):
    from core import cli as command

    monkeypatch.chdir(Path(__file__).parents[2])  # the recipes name their data relative to the project folder
    for kind in DATA:
        path = Path(__file__).parents[2] / "resources" / "recipes" / f"task-{kind}.yaml"
        recipe = Recipe.load(path)
        assert recipe.task == kind and recipe.model.source == "default"
        assert command.main(["validate", str(path)]) == 0, capsys.readouterr().err
        assert f"task {kind}:" in capsys.readouterr().out


def test_the_step_cache_tells_tasks_apart(tmp_path):
    """A regression and a sentence-classification run on the same table and model must not share a cached prefix."""
    from core.engine.cache import StepCache

    cache = StepCache(tmp_path / "cache")
    csv = tmp_path / "scores.csv"
    csv.write_text("text,label\n" + "".join(f"row {i},{i % 3}\n" for i in range(30)))
    one = Recipe(model=ModelRef("tiny"), data=DataRef(str(csv)), steps=[Step("finetune")])
    other = one.copy()
    other.task = "regression"
    assert cache.prefix_keys(one)[1] != cache.prefix_keys(other)[1]


def test_qa_evaluation_limits_questions_not_windows(tasks):
    """``max_samples`` counts questions: every window of each question measured is read (a long context's answer
    may lie in its second window)."""
    from core.engine.task_metrics import evaluate_task
    from core.models.loading import load_model

    task = tasks["question-answering"]
    state = load_model("tiny", 2, task="question-answering")
    windows = task.split("test")["_example_id"]
    first = task.raw["test"]["id"][:5]
    measured = evaluate_task(state.model, task, "test", 4, DATA["question-answering"], limit=5, intervals=True)
    assert measured.evaluated == 5 and measured.scored.extra["evaluated"] == 5
    assert sum(e in first for e in windows) >= 5  # (at least one window each; more where a context is long)
    assert set(measured.figures) >= {"answer_f1", "exact_match"}


def test_retokenizing_keeps_the_kind_and_its_features(tasks):
    """A step that re-tokenizes the raw splits (vocabulary pruning) gets the same kind of task back."""
    from core.data.task import tokenize_splits

    for kind, task in tasks.items():
        again = tokenize_splits(task.raw, task.label_names, DATA[kind], task.tokenizer, task.kind, task.extras())
        assert again.kind is task.kind and again.num_labels == task.num_labels
        assert again.test.column_names == task.test.column_names
        assert again.test["input_ids"] == task.test["input_ids"]
