"""``save_to_disk`` folders for the task kinds: their own train / validation / test splits are kept, a missing one
is made from train, and each split is read by the task's reader (issue 21)."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from core.data.kinds import load_task_splits
from core.errors import DataLoadError
from core.recipe import DataRef

EXAMPLES = Path(__file__).parents[3] / "resources" / "examples" / "tasks"
TOPICS = ["sports", "music", "food", "travel", "technology"]


def _save(folder: Path, ds: datasets.Dataset, sizes: dict[str, int]) -> Path:
    """``ds`` cut into the named splits, in order, saved as a DatasetDict."""
    parts, start = {}, 0
    for name, n in sizes.items():
        parts[name] = ds.select(range(start, start + n))
        start += n
    datasets.DatasetDict(parts).save_to_disk(str(folder))
    return folder


def test_a_saved_ner_dataset_keeps_its_splits_and_class_label_names(tmp_path):
    from core.tasks.token_data import read_conll

    conll = read_conll(EXAMPLES / "ner.conll").dataset.select_columns(["tokens", "tags"])
    folder = _save(tmp_path / "ner", conll, {"train": 60, "validation": 11, "test": 13})
    raw = load_task_splits(DataRef(str(folder)), "token-classification")
    assert {k: len(v) for k, v in raw.parts.items()} == {"train": 60, "validation": 11, "test": 13}
    assert raw.parts["validation"]["tokens"] == conll.select(range(60, 71))["tokens"]
    assert raw.label_names == conll.features["tags"].feature.names  # ClassLabel names, the same in every split


def test_a_saved_squad_dataset_with_dev_and_no_test_makes_its_test_from_train(tmp_path):
    from core.tasks.qa_data import read_squad

    squad = read_squad(EXAMPLES / "qa_squad_v2.json").dataset.remove_columns(["row"])
    n = len(squad)
    folder = _save(tmp_path / "squad", squad, {"train": n - 20, "dev": 20})
    raw = load_task_splits(DataRef(str(folder)), "question-answering")
    assert raw.parts["validation"]["id"] == squad.select(range(n - 20, n))["id"]  # the saved 'dev' split
    assert len(raw.parts["train"]) + len(raw.parts["test"]) == n - 20  # test made from train, nothing shared
    assert not set(raw.parts["test"]["id"]) & set(raw.parts["train"]["id"])
    assert raw.extra["unanswerable"] == sum(not a["text"] for a in squad["answers"])


def test_saved_tables_for_regression_and_multi_label(tmp_path):
    scores = datasets.Dataset.from_csv(str(EXAMPLES / "regression.csv"))
    folder = _save(tmp_path / "scores", scores, {"train": 200, "validation": 40, "test": 60})
    raw = load_task_splits(DataRef(str(folder), label_column="score"), "regression")
    assert {k: len(v) for k, v in raw.parts.items()} == {"train": 200, "validation": 40, "test": 60}
    assert raw.parts["test"]["label"] == pytest.approx(scores.select(range(240, 300))["score"])
    topics = datasets.Dataset.from_csv(str(EXAMPLES / "multilabel.csv"))
    folder = _save(tmp_path / "topics", topics, {"train": 250, "test": 50})
    raw = load_task_splits(DataRef(str(folder), label_columns=TOPICS), "multi-label")
    assert len(raw.parts["test"]) == 50 and len(raw.parts["train"]) + len(raw.parts["validation"]) == 250
    assert raw.label_names == TOPICS


def test_a_saved_dataset_without_train_is_refused_naming_its_splits(tmp_path):
    scores = datasets.Dataset.from_csv(str(EXAMPLES / "regression.csv"))
    folder = _save(tmp_path / "scores", scores, {"fit": 200, "test": 100})
    with pytest.raises(DataLoadError, match=r"has splits \['fit', 'test'\] but no 'train' split"):
        load_task_splits(DataRef(str(folder), label_column="score"), "regression")


def test_a_saved_single_dataset_is_split_as_a_file_is(tmp_path):
    scores = datasets.Dataset.from_csv(str(EXAMPLES / "regression.csv"))
    scores.save_to_disk(str(tmp_path / "one"))
    raw = load_task_splits(DataRef(str(tmp_path / "one"), label_column="score"), "regression")
    assert sum(len(p) for p in raw.parts.values()) == 300 and len(raw.parts["test"]) == 50
