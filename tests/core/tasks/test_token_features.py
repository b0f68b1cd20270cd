import datasets
import pytest

from core.tasks.tags import TagScheme
from core.tasks.token_features import IGNORE, align_tags, predictions_from_logits, tokenize_token_data, word_predictions

NAMES = ["O", "B-PER", "I-PER", "B-LOC", "E-PER", "S-LOC"]


def sentences(tokens, tags):
    index = {n: i for i, n in enumerate(NAMES)}
    features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
                                  "tags": datasets.List(datasets.ClassLabel(names=NAMES))})
    return datasets.Dataset.from_dict({"tokens": tokens, "tags": [[index[t] for t in s] for s in tags]},
                                      features=features)


def decoded(tokenizer, row):
    return tokenizer.convert_ids_to_tokens(row["input_ids"])


def test_tags_go_to_the_first_word_piece_and_minus_100_to_the_rest(minilm_tokenizer):
    ds = sentences([["Mei", "Okafor", "visited", "Oslo"]], [["B-PER", "I-PER", "O", "B-LOC"]])
    row = tokenize_token_data(ds, minilm_tokenizer, NAMES, TagScheme.IOB2)[0]
    pieces = decoded(minilm_tokenizer, row)
    assert pieces == ["[CLS]", "mei", "ok", "##af", "##or", "visited", "oslo", "[SEP]"]
    assert row["labels"] == [IGNORE, 1, 2, IGNORE, IGNORE, 0, 3, IGNORE]
    assert row["_word_ids"] == [-1, 0, 1, 1, 1, 2, 3, -1] and row["_words"] == 4


def test_labelling_every_piece_continues_the_entity(minilm_tokenizer):
    ds = sentences([["Okafor", "left"]], [["B-PER", "O"]])
    row = tokenize_token_data(ds, minilm_tokenizer, NAMES, TagScheme.IOB2, pieces="all")[0]
    assert row["labels"] == [IGNORE, 1, 2, 2, 0, IGNORE]  # B-PER, I-PER, I-PER on ok ##af ##or


def test_bioes_single_word_entity_spread_over_pieces():
    word_ids = [None, 0, 0, 0, 1, None]
    tags = [NAMES.index("S-LOC"), 0]
    names = ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    tags = [names.index("S-LOC"), 0]
    assert align_tags(word_ids, tags, names, TagScheme.BIOES, "all") == [IGNORE, 1, 2, 3, 0, IGNORE]
    assert align_tags(word_ids, tags, names, TagScheme.BIOES, "first") == [IGNORE, 4, IGNORE, IGNORE, 0, IGNORE]
    with pytest.raises(ValueError, match="label pieces"):
        align_tags(word_ids, tags, names, TagScheme.BIOES, "last")


def test_words_cut_off_by_max_length_are_predicted_outside(minilm_tokenizer):
    ds = sentences([["Mei", "Okafor", "visited", "Oslo"]], [["B-PER", "I-PER", "O", "B-LOC"]])
    row = tokenize_token_data(ds, minilm_tokenizer, NAMES, TagScheme.IOB2, max_length=5)[0]
    assert row["_word_ids"] == [-1, 0, 1, 1, -1] and row["_words"] == 4
    assert word_predictions([0, 1, 2, 0, 0], row["_word_ids"], row["_words"], NAMES) == ["B-PER", "I-PER", "O", "O"]


def test_word_predictions_from_padded_logits(minilm_tokenizer):
    import numpy as np

    ds = sentences([["Mei", "Okafor"], ["Oslo"]], [["B-PER", "I-PER"], ["B-LOC"]])
    features = tokenize_token_data(ds, minilm_tokenizer, NAMES, TagScheme.IOB2)
    logits = np.zeros((2, 6, len(NAMES)))
    for position, label in enumerate([0, 1, 2, 0, 0, 0]):  # [CLS] mei ok ##af ##or [SEP]
        logits[0, position, label] = 5.0
    logits[0, 3, 3] = 9.0  # a later piece of 'Okafor' says B-LOC: ignored, the first piece decides
    logits[1, 1, 3] = 5.0  # [CLS] oslo [SEP] + padding
    assert predictions_from_logits(logits, features, NAMES) == [["B-PER", "I-PER"], ["B-LOC"]]
