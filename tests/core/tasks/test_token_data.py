import json

import pytest

from core.errors import DataLoadError
from core.tasks.tags import TagScheme
from core.tasks.token_data import read_conll, read_token_disk, read_token_jsonl, read_token_source

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP I-LOC
1996-08-22 CD I-NP O
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_conll_2003_sentences_documents_and_every_column_are_kept(tmp_path):
    data = read_conll(write(tmp_path, "eng.train.conll", CONLL_2003))
    ds = data.dataset
    assert data.scheme is TagScheme.IOB1
    assert ds["tokens"] == [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"], ["BRUSSELS", "1996-08-22"]]
    names = ds.features["tags"].feature.names
    assert [[names[t] for t in s] for s in ds["tags"]][1] == ["I-PER", "I-PER"]
    assert ds["row"] == [3, 9, 14] and ds["document"] == [0, 0, 1]
    assert ds["column_1"][0] == ["NNP", "VBZ", "JJ", "NN", "."] and ds["column_2"][1] == ["B-NP", "I-NP"]
    assert data.label_names == names == ["O", "I-LOC", "I-MISC", "I-ORG", "I-PER"]


def test_another_tag_column_can_be_chosen(tmp_path):
    data = read_conll(write(tmp_path, "chunks.conll", CONLL_2003), tag_column=2)
    assert data.scheme is TagScheme.IOB2 and "B-NP" in data.label_names
    assert data.dataset["column_3"][0] == ["I-ORG", "O", "I-MISC", "O", "O"]
    with pytest.raises(DataLoadError, match=r"chunks.conll, line 3: tag column 0 is not one of the tag columns 1\.\.3"):
        read_conll(tmp_path / "chunks.conll", tag_column=0)


def test_tabs_separate_columns_so_tokens_may_hold_spaces(tmp_path):
    data = read_conll(write(tmp_path, "t.conll", "New York\tB-LOC\nis\tO\n"))
    assert data.dataset["tokens"] == [["New York", "is"]]


@pytest.mark.parametrize("text, message", [
    ("EU B-ORG\nrejects\n", r"bad.conll, line 2: has 1 columns where line 1 has 2"),
    ("EU NNP B-ORG\nrejects O\n", r"bad.conll, line 2: has 2 columns where line 1 has 3"),
    ("EU\nrejects\n", r"bad.conll, line 1: has a single column"),
    ("EU B-ORG\n\nPeter PER\n", r"bad.conll, line 3, field 'tag': tag 'PER' fits no tag scheme"),
    ("EU B-ORG\nx I-ORG\n\ny O\nz I-PER\n", r"bad.conll, line 5, field 'tag': an entity starts with I-"),
    ("-DOCSTART- O\n\n", r"bad.conll holds no sentences"),
])
def test_hostile_conll_files_name_file_line_and_field(tmp_path, text, message):
    with pytest.raises(DataLoadError, match=message):
        read_conll(write(tmp_path, "bad.conll", text))


def test_unreadable_conll_files(tmp_path):
    with pytest.raises(DataLoadError, match="empty.conll is empty"):
        read_conll(write(tmp_path, "empty.conll", ""))
    (tmp_path / "bin.conll").write_bytes(b"EU\x00B-ORG\n")
    with pytest.raises(DataLoadError, match="bin.conll could not be read as CoNLL: it is a binary file"):
        read_conll(tmp_path / "bin.conll")
    (tmp_path / "latin.conll").write_bytes("Z\u00fcrich B-LOC\n".encode("latin-1"))
    with pytest.raises(DataLoadError, match="line 1 is not UTF-8"):
        read_conll(tmp_path / "latin.conll")
    with pytest.raises(DataLoadError, match="no dataset at"):
        read_conll(tmp_path / "missing.conll")


def test_validation_file_reuses_the_training_labels(tmp_path):
    train = read_conll(write(tmp_path, "train.conll", "EU B-ORG\nrejects O\n\nPeter B-PER\n"))
    dev = read_conll(write(tmp_path, "dev.conll", "Peter B-PER\n"), label_names=train.label_names)
    assert dev.dataset.features["tags"].feature.names == train.label_names
    with pytest.raises(DataLoadError, match=r"dev2.conll, line 2, field 'tag': tag 'B-LOC' is not one of the labels"):
        read_conll(write(tmp_path, "dev2.conll", "Peter B-PER\nParis B-LOC\n"), label_names=train.label_names)


def lines(*records):
    return "\n".join(json.dumps(r) if not isinstance(r, str) else r for r in records) + "\n"


def test_json_lines_with_tokens_and_tags(tmp_path):
    path = write(tmp_path, "ner.jsonl", lines({"tokens": ["Anna", "Novak", "left"], "tags": ["B-PER", "E-PER", "O"]},
                                              "", {"tokens": ["Oslo"], "tags": ["S-LOC"], "id": 7}))
    data = read_token_source(path)
    assert data.scheme is TagScheme.BIOES and data.dataset["row"] == [1, 3]
    numbered = read_token_jsonl(write(tmp_path, "ids.jsonl", lines({"tokens": ["Oslo", "x"], "tags": [1, 0]})),
                                label_names=["O", "B-LOC"])
    assert numbered.dataset["tags"] == [[1, 0]]


@pytest.mark.parametrize("record, message", [
    ({"tokens": ["a", "b", "c"], "tags": ["O", "O"]}, r"line 2, field 'tags': has 2 tags for 3 tokens"),
    ({"tokens": ["a"]}, r"line 2: has no 'tags' field"),
    ({"tokens": "a b", "tags": ["O"]}, r"line 2, field 'tokens': is a str, not a list"),
    ({"tokens": ["a", ""], "tags": ["O", "O"]}, r"line 2, field 'tokens': holds ''"),
    ({"tokens": [], "tags": []}, r"line 2, field 'tokens': is empty"),
    ({"tokens": ["a"], "tags": [3]}, r"line 2, field 'tags': tags are numbers \(3\); give the tag names"),
    ({"tokens": ["a"], "tags": [None]}, r"line 2, field 'tags': tag None is not a text tag"),
    ({"tokens": ["a", "b"], "tags": ["O", "PER"]}, r"line 2, field 'tags' \(token 2\): tag 'PER' fits no tag scheme"),
    ("[1, 2]", r"line 2: is a JSON list"),
    ("{oops", r"line 2: is not valid JSON"),
])
def test_hostile_json_lines_name_line_and_field(tmp_path, record, message):
    path = write(tmp_path, "bad.jsonl", lines({"tokens": ["x"], "tags": ["O"]}, record))
    with pytest.raises(DataLoadError, match="bad.jsonl, " + message):
        read_token_jsonl(path)


def test_save_to_disk_folder_with_class_labels(tmp_path):
    import datasets

    features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
                                  "ner_tags": datasets.List(datasets.ClassLabel(names=["O", "B-PER", "I-PER"]))})
    ds = datasets.Dataset.from_dict({"tokens": [["Anna", "Novak"], ["hi"]], "ner_tags": [[1, 2], [0]]}, features=features)
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "saved"))
    data = read_token_disk(tmp_path / "saved", tags_field="ner_tags")
    assert data.label_names == ["O", "B-PER", "I-PER"] and data.dataset["tags"] == [[1, 2], [0]]
    bad = datasets.Dataset.from_dict({"tokens": [["a"], ["b", "c"]], "tags": [["O"], ["O"]]})
    bad.save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(DataLoadError, match=r"bad, row 2, field 'tags': has 1 tags for 2 tokens"):
        read_token_source(tmp_path / "bad")
    with pytest.raises(DataLoadError, match="no 'test' split"):
        read_token_disk(tmp_path / "saved", tags_field="ner_tags", split="test")


def test_conll_files_keep_their_own_names(tmp_path):
    data = read_token_source(write(tmp_path, "eng.testa", CONLL_2003))
    assert len(data.dataset) == 3


def test_tab_separated_fields_are_trimmed(tmp_path):
    data = read_conll(write(tmp_path, "t.conll", "EU \tB-ORG \nrejects\tO\n"))
    assert data.dataset["tokens"] == [["EU", "rejects"]] and data.label_names == ["O", "B-ORG"]
