import json

import pytest

from core.errors import DataLoadError
from core.tasks.table_data import Scaling, read_multilabel, read_regression


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_regression_reads_numbers_and_text_pairs(tmp_path):
    path = write(tmp_path, "sts.csv", "a,b,score\nA man runs.,A man is running.,4.8\nA cat.,\"A dog,\nbarking.\",0\n")
    ds = read_regression(path, text_column="a", text_pair_column="b", label_column="score")
    assert ds["label"] == pytest.approx([4.8, 0.0]) and ds["text_pair"][1] == "A dog,\nbarking."
    assert ds.features["label"].dtype == "float32"


@pytest.mark.parametrize("rows, message", [
    ("ok,1.5\nbad,abc\n", r"r.csv, row 2 \(line 3\), field 'label': the target 'abc' is not a number"),
    ("ok,1.5\nbad,\n", r"r.csv, row 2 \(line 3\), field 'label': the target is empty or NaN"),
    ("ok,1.5\nbad,NaN\n", r"row 2 \(line 3\), field 'label': the target is empty or NaN"),
    ("ok,1.5\nbad,inf\n", r"row 2 \(line 3\), field 'label': the target .* is infinite"),
    ("\"two\nlines\",1\n,2\n", r"r.csv, row 2 \(line 4\), field 'text': has no text"),
])
def test_hostile_regression_targets_name_row_line_and_column(tmp_path, rows, message):
    with pytest.raises(DataLoadError, match=message):
        read_regression(write(tmp_path, "r.csv", "text,label\n" + rows))


def test_regression_json_lines_rows_are_lines(tmp_path):
    path = write(tmp_path, "r.jsonl", json.dumps({"text": "a", "label": 1}) + "\n\n" +
                 json.dumps({"text": "b", "label": "x"}) + "\n")
    with pytest.raises(DataLoadError, match=r"r.jsonl, line 3, field 'label': the target 'x' is not a number"):
        read_regression(path)
    with pytest.raises(DataLoadError, match=r"column\(s\) 'score' not found"):
        read_regression(path, label_column="score")


def test_scaling_is_fitted_on_training_targets_and_inverts():
    scaling = Scaling.fit("standard", [1.0, 3.0])
    assert (scaling.shift, scaling.scale) == (2.0, 1.0)
    assert scaling.apply([3.0, 5.0]) == [1.0, 3.0]
    assert scaling.invert(scaling.apply([0.5])) == [0.5]
    minmax = Scaling.fit("minmax", [2.0, 6.0, 4.0])
    assert minmax.apply([2.0, 6.0]) == [0.0, 1.0]
    assert Scaling.from_dict(minmax.to_dict()) == minmax
    assert Scaling.fit("none", [5.0]).apply([5.0]) == [5.0]
    with pytest.raises(DataLoadError, match="unknown target scaling 'log'"):
        Scaling.fit("log", [1.0])


def test_multilabel_from_0_1_columns(tmp_path):
    path = write(tmp_path, "m.csv", "text,sports,music\nGoal!,1,0\nSilence.,0,0\nBand match,true,1\n")
    data = read_multilabel(path, label_columns=["sports", "music"])
    assert data.label_names == ["sports", "music"]
    assert data.dataset["labels"] == [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]]


def test_multilabel_from_a_list_column(tmp_path):
    path = write(tmp_path, "m.jsonl", "\n".join(json.dumps(r) for r in [
        {"text": "a", "labels": ["music", "food"]}, {"text": "b", "labels": []}, {"text": "c", "labels": ["food"]}]))
    data = read_multilabel(path)
    assert data.label_names == ["food", "music"] and data.dataset["labels"] == [[1, 1], [0, 0], [1, 0]]
    joined = write(tmp_path, "j.csv", "text,labels\na,\"music, food\"\nb,\nc,\"[\"\"food\"\"]\"\n")
    assert read_multilabel(joined).dataset["labels"] == [[1, 1], [0, 0], [1, 0]]
    numbered = write(tmp_path, "n.jsonl", "\n".join(json.dumps(r) for r in [{"text": "a", "labels": [0, 2]},
                                                                             {"text": "b", "labels": [1]}]))
    assert read_multilabel(numbered).label_names == ["0", "1", "2"]
    named = read_multilabel(numbered, label_names=["x", "y", "z"])
    assert named.dataset["labels"] == [[1, 0, 1], [0, 1, 0]]


@pytest.mark.parametrize("text, columns, message", [
    ("text,a,b\nx,1,0\ny,2,0\n", ["a", "b"], r"m.csv, row 2 \(line 3\), field 'a': holds 2; a label column holds 0 or 1"),
    ("text,a,b\nx,1,0\ny,1,\n", ["a", "b"], r"m.csv, row 2 \(line 3\), field 'b': holds nothing; a label column holds 0 or 1"),
    ("text,a\nx,1\n", ["a"], "at least two 0/1 columns"),
    ("text,labels\nx,a\ny,[oops\n", "labels", r"row 2 \(line 3\), field 'labels': starts like a JSON list but is not one"),
    ("text,labels\nx,a\ny,a\n", "labels", r"m.csv: multi-label data needs at least two labels; found \['a'\]"),
])
def test_hostile_multilabel_tables(tmp_path, text, columns, message):
    with pytest.raises(DataLoadError, match=message):
        read_multilabel(write(tmp_path, "m.csv", text), label_columns=columns)


def test_multilabel_validation_labels_must_be_known(tmp_path):
    path = write(tmp_path, "dev.csv", "text,labels\nx,\"music,art\"\n")
    with pytest.raises(DataLoadError, match=r"dev.csv, row 1 \(line 2\), field 'labels': label 'art' is not one of"):
        read_multilabel(path, label_names=["food", "music"])


def test_regression_from_a_save_to_disk_folder_names_rows(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"text": ["a", "b", "c"], "label": [1.0, float("nan"), 2.0]}).save_to_disk(
        str(tmp_path / "saved"))
    with pytest.raises(DataLoadError, match=r"saved, row 2, field 'label': the target is empty or NaN"):
        read_regression(tmp_path / "saved")


def test_an_empty_list_cell_means_no_labels(tmp_path):
    path = write(tmp_path, "m.csv", "text,labels,score\na,\"x,y\",1\nb,,2\n")
    assert read_multilabel(path).dataset["labels"] == [[1.0, 1.0], [0.0, 0.0]]
