import json

import pytest

from core.data.task import load_splits, prepare_task
from core.errors import DataLoadError
from core.models.loading import load_tokenizer
from core.recipe import DataRef


def write_csv(path, rows, header="sentence,sentiment"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_default_data_is_deduplicated_and_split_reproducibly():
    parts, names = load_splits(DataRef())
    assert names == ["negative", "positive"]
    sizes = {k: len(v) for k, v in parts.items()}
    assert sizes == {"train": 9752, "validation": 1000, "test": 2000}
    texts = [t for split in ("train", "validation", "test") for t in parts[split]["text"]]
    assert len(set(texts)) == len(texts) == 12752
    again, _ = load_splits(DataRef())
    assert list(again["test"]["text"][:20]) == list(parts["test"]["text"][:20])
    positive = sum(parts["test"]["label"]) / len(parts["test"])
    assert 0.55 < positive < 0.61  # stratified: 57.8 % positive overall


def test_user_csv_with_string_labels_and_column_mapping(tmp_path):
    rows = [f'"sentence number {i}",{"good" if i % 3 else "bad"}' for i in range(60)]
    ref = DataRef(source=str(write_csv(tmp_path / "d.csv", rows)), text_column="sentence", label_column="sentiment", max_length=16)
    task = prepare_task(ref, load_tokenizer("tiny"))
    assert task.label_names == ["bad", "good"]
    assert len(task.train) + len(task.validation) + len(task.test) == 60
    batch = next(iter(task.loader("train", 4)))
    assert batch["input_ids"].shape[0] == 4 and set(batch["labels"].tolist()) <= {0, 1}


def test_jsonl_sentence_pairs(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps({"a": f"premise {i}", "b": f"hypothesis {i}", "y": i % 2}) for i in range(40)))
    task = prepare_task(DataRef(source=str(path), text_column="a", text_pair_column="b", label_column="y"), load_tokenizer("tiny"))
    ids = task.train[0]["input_ids"]
    assert ids.count(102) == 2  # [SEP] after each of the two texts
    assert task.label_names == ["0", "1"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "nothing.csv", "no dataset at"),
        (lambda p: (p / "empty.csv").write_text("") and p / "empty.csv" or p / "empty.csv", "is empty"),
        (lambda p: write_csv(p / "cols.csv", ["a,b"], header="foo,bar"), "column(s) 'sentence', 'sentiment' not found"),
        (lambda p: write_csv(p / "cont.csv", [f"s{i},{i / 7}" for i in range(30)]), "continuous"),
        (lambda p: write_csv(p / "one.csv", [f"s{i},x" for i in range(30)]), "single class"),
        (lambda p: write_csv(p / "few.csv", ["s,x", "t,y"]), "at least 10"),
        (lambda p: (p / "x.txt").write_text("hello") and p / "x.txt", "unsupported file type"),
        (lambda p: (p / "bad.jsonl").write_text("{not json") and p / "bad.jsonl", "could not be read as JSON"),
        (lambda p: (p / "folder").mkdir() or p / "folder", "not a dataset saved with save_to_disk"),
    ],
)
def test_bad_input_gives_a_specific_message(tmp_path, make, message):
    ref = DataRef(source=str(make(tmp_path)), text_column="sentence", label_column="sentiment")
    with pytest.raises(DataLoadError) as info:
        load_splits(ref)
    assert message in str(info.value)


def test_save_to_disk_folder_with_splits(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict({"text": [f"t {i}" for i in range(50)], "label": [i % 2 for i in range(50)]})
    datasets.DatasetDict({"train": ds, "test": ds.select(range(10))}).save_to_disk(str(tmp_path / "saved"))
    parts, names = load_splits(DataRef(source=str(tmp_path / "saved")))
    assert len(parts["test"]) == 10 and len(parts["validation"]) > 0
    assert names == ["0", "1"]


def test_boolean_labels_are_two_classes(tmp_path):
    # pandas reads a column of true/false as booleans; each must stay its own class
    rows = [f"sentence {i},{'true' if i % 3 == 0 else 'false'}" for i in range(60)]
    ref = DataRef(source=str(write_csv(tmp_path / "b.csv", rows)), text_column="sentence", label_column="sentiment")
    parts, names = load_splits(ref)
    assert names == ["false", "true"]
    counts = [0, 0]
    for split in parts.values():
        for label in split["label"]:
            counts[label] += 1
    assert counts == [40, 20]
    assert sum(parts["test"]["label"]) < len(parts["test"])  # not every row class 1


def _lines(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = [f"sentence {i},{i % 2}" for i in range(20)]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: _lines(p / "header.csv", ["sentence,sentiment"]), "header line (sentence, sentiment) but no data rows"),
        (lambda p: (p / "bin.csv").write_bytes(bytes(range(256)) * 8) and p / "bin.csv", "binary file, not CSV text"),
        (lambda p: _lines(p / "ragged.csv", ["sentence,sentiment", *GOOD, "a,b,c,d", *GOOD]),
         "line 22 has 4 fields where the header line has 2"),
        (lambda p: _lines(p / "quote.csv", ["sentence,sentiment", *GOOD, '"never closed,1', *GOOD]),
         "quoted field that starts on line 22 is never closed"),
        (lambda p: (p / "latin.csv").write_bytes("sentence,sentiment\n".encode() + "café,1\n".encode("latin-1") * 20)
         and p / "latin.csv", "line 2 is not UTF-8"),
        (lambda p: _lines(p / "broken.jsonl", ['{"sentence": "a", "sentiment": 1}', '{"sentence": "b", "sent']),
         "line 2 is not valid JSON"),
        (lambda p: _lines(p / "list.jsonl", ['{"sentence": "a", "sentiment": 1}', "[1, 2]"]), "line 2 is a JSON list"),
        (lambda p: _lines(p / "numbers.csv", ["sentence,sentiment", *[f"{i},{i % 2}" for i in range(20)]]),
         "text column 'sentence' holds int64 values"),
    ],
)
def test_malformed_files_say_what_is_wrong_and_where(tmp_path, make, message):
    ref = DataRef(source=str(make(tmp_path)), text_column="sentence", label_column="sentiment")
    with pytest.raises(DataLoadError) as info:
        load_splits(ref)
    assert message in str(info.value)
    assert "An error occurred while generating" not in str(info.value)
