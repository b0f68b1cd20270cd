"""The export's head reading (core.models.heads) and the recipe's task detector (core.tasks.kinds) agree: the one
reads the other (issue 21)."""

from __future__ import annotations

import pytest
from transformers import BertConfig

from core.models.heads import KINDS, config_kind, kind_of
from core.tasks.kinds import TaskKind, detect_task


@pytest.mark.parametrize("architecture, extra, expected", [
    ("BertForTokenClassification", {"num_labels": 5}, "token-classification"),
    ("BertForQuestionAnswering", {}, "question-answering"),
    ("BertForSequenceClassification", {"num_labels": 3}, "sequence-classification"),
    ("BertForSequenceClassification", {"num_labels": 1}, "regression"),
    ("BertForSequenceClassification", {"num_labels": 4, "problem_type": "multi_label_classification"}, "multi-label"),
    ("BertForSequenceClassification", {"num_labels": 2, "problem_type": "regression"}, "regression"),
    ("BertForMaskedLM", {"num_labels": 2, "problem_type": "multi_label_classification"}, "multi-label"),
])
def test_the_head_is_read_as_the_task_detector_reads_it(architecture, extra, expected):
    config = BertConfig(architectures=[architecture], **extra)
    assert detect_task(config.to_dict()).kind is TaskKind.parse(expected)
    assert config_kind(config) == expected
    assert type(config_kind(config)) is str  # plain spellings, as the exports' manifests write them


def test_a_head_the_detector_learns_is_read_by_the_exports_too(monkeypatch):
    """One table of heads: a head class added to the detector is known to the model folder and the exports."""
    from core.tasks import kinds

    monkeypatch.setattr(kinds, "_HEADS", (("ForEntityTagging", TaskKind.TOKEN_CLASSIFICATION), *kinds._HEADS))
    config = BertConfig(architectures=["MyBertForEntityTagging"], num_labels=5)
    assert config_kind(config) == "token-classification"


def test_a_model_without_a_head_is_a_sentence_classifier_or_a_scorer():
    assert config_kind(BertConfig(architectures=["BertModel"])) == "sequence-classification"
    assert config_kind(BertConfig(num_labels=1)) == "regression"
    assert KINDS == tuple(k.value for k in TaskKind)


def test_an_in_memory_model_is_read_by_its_class():
    from transformers import BertForTokenClassification

    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=8, num_labels=3, architectures=["BertForSequenceClassification"])
    assert kind_of(BertForTokenClassification(config)) == "token-classification"  # stale architectures ignored
