"""The example files under resources/examples/tasks: the generator makes exactly them, and the readers take them."""

import importlib.util
from pathlib import Path

import pytest

from core.tasks.qa_data import read_squad
from core.tasks.table_data import read_multilabel, read_regression
from core.tasks.tags import TagScheme
from core.tasks.token_data import read_conll

FOLDER = Path(__file__).resolve().parents[3] / "resources" / "examples" / "tasks"
TOPICS = ["sports", "music", "food", "travel", "technology"]


def generator():
    spec = importlib.util.spec_from_file_location("make_examples", FOLDER / "make_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("maker, name", [("make_ner", "ner.conll"), ("make_qa", "qa_squad_v2.json"),
                                         ("make_regression", "regression.csv"), ("make_multilabel", "multilabel.csv")])
def test_the_generator_makes_the_committed_files(tmp_path, maker, name):
    getattr(generator(), maker)(tmp_path / name)
    assert (tmp_path / name).read_bytes() == (FOLDER / name).read_bytes()


def test_the_examples_read_and_are_small():
    ner = read_conll(FOLDER / "ner.conll")
    assert ner.scheme is TagScheme.IOB2 and len(ner.dataset) == 320
    assert {"B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"} <= set(ner.label_names)
    qa = read_squad(FOLDER / "qa_squad_v2.json")
    assert len(qa.dataset) == 300 and 60 <= qa.unanswerable <= 120
    regression = read_regression(FOLDER / "regression.csv", label_column="score")
    assert len(regression) == 300 and 1.0 <= min(regression["label"]) < max(regression["label"]) <= 5.0
    multi = read_multilabel(FOLDER / "multilabel.csv", label_columns=TOPICS)
    counts = [sum(row[k] for row in multi.dataset["labels"]) for k in range(len(TOPICS))]
    assert len(multi.dataset) == 300 and min(counts) >= 50
    for path in FOLDER.iterdir():
        assert path.stat().st_size < 300_000, path.name


def test_some_qa_contexts_need_several_windows(minilm_tokenizer):
    from core.tasks.qa_features import prepare_qa_features

    qa = read_squad(FOLDER / "qa_squad_v2.json").dataset.select(range(60))
    windows = prepare_qa_features(qa, minilm_tokenizer, max_length=128, doc_stride=32)
    assert len(windows) > len(qa)
