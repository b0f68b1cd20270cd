import json

import pytest

from core.errors import ModelLoadError
from core.models.folder import detect_folder
from core.tasks.kinds import TaskKind, check_task, detect_task


def test_parse_accepts_the_recipe_spelling_and_lists_the_kinds_otherwise():
    assert TaskKind.parse("token-classification") is TaskKind.TOKEN_CLASSIFICATION
    assert TaskKind.parse("Multi_Label") is TaskKind.MULTI_LABEL
    with pytest.raises(ValueError, match="unknown task 'ner'.*question-answering"):
        TaskKind.parse("ner")


@pytest.mark.parametrize("config, kind", [
    ({"architectures": ["BertForTokenClassification"], "id2label": {str(i): f"L{i}" for i in range(5)}},
     TaskKind.TOKEN_CLASSIFICATION),
    ({"architectures": ["DistilBertForQuestionAnswering"]}, TaskKind.QUESTION_ANSWERING),
    ({"architectures": ["BertForSequenceClassification"], "id2label": {"0": "neg", "1": "pos"}},
     TaskKind.SEQUENCE_CLASSIFICATION),
    ({"architectures": ["BertForSequenceClassification"], "problem_type": "single_label_classification"},
     TaskKind.SEQUENCE_CLASSIFICATION),
    ({"architectures": ["RobertaForSequenceClassification"], "problem_type": "regression", "num_labels": 1},
     TaskKind.REGRESSION),
    ({"architectures": ["BertForSequenceClassification"], "id2label": {"0": "LABEL_0"}}, TaskKind.REGRESSION),
    ({"architectures": ["BertForSequenceClassification"], "problem_type": "multi_label_classification",
      "id2label": {"0": "a", "1": "b", "2": "c"}}, TaskKind.MULTI_LABEL),
    ({"problem_type": "multi_label_classification"}, TaskKind.MULTI_LABEL),
    ({"architectures": ["BertModel"]}, None),
    ({"architectures": ["BertForMaskedLM"]}, None),
    ({}, None),
])
def test_detects_the_head_from_architectures_problem_type_and_labels(config, kind):
    assert detect_task(config).kind is kind


def test_detection_keeps_label_names_but_not_generic_ones():
    named = detect_task({"architectures": ["BertForTokenClassification"], "id2label": {"1": "B-PER", "0": "O"}})
    assert named.label_names == ("O", "B-PER") and named.num_labels == 2
    generic = detect_task({"architectures": ["BertForSequenceClassification"],
                           "id2label": {"0": "LABEL_0", "1": "LABEL_1"}})
    assert generic.label_names == () and generic.num_labels == 2


def test_a_task_contradicting_the_head_is_refused_with_both_named():
    detection = detect_task({"architectures": ["BertForTokenClassification"], "id2label": {str(i): f"L{i}" for i in range(5)}})
    with pytest.raises(ModelLoadError) as err:
        check_task("sequence-classification", detection)
    text = str(err.value)
    assert "task is sequence-classification" in text and "token-classification model" in text
    assert "BertForTokenClassification" in text
    assert check_task("token-classification", detection, num_labels=5) is TaskKind.TOKEN_CLASSIFICATION
    with pytest.raises(ModelLoadError, match="data has 9 labels.*head has 5"):
        check_task("token-classification", detection, num_labels=9)


def test_a_model_without_head_fits_every_task():
    detection = detect_task({"architectures": ["BertModel"]})
    for kind in TaskKind:
        assert check_task(kind, detection, num_labels=7) is kind


def test_detect_folder_reads_config_json(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForQuestionAnswering"]}))
    found = detect_folder(tmp_path)
    assert found.kind is TaskKind.QUESTION_ANSWERING and "BertForQuestionAnswering" in found.reason
    with pytest.raises(ModelLoadError, match="regression.*question-answering model"):
        check_task(TaskKind.REGRESSION, found, where=str(tmp_path))
