import pytest

from core.errors import DataLoadError
from core.tasks.tags import TagScheme, continuation, detect_scheme, first_piece, order_labels


def where(s, t):
    return f"sentence {s + 1} token {t + 1}"


@pytest.mark.parametrize("sentences, scheme", [
    ([["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"]], TagScheme.IOB2),
    ([["I-PER", "I-PER", "O", "I-LOC"], ["I-ORG", "B-ORG"]], TagScheme.IOB1),
    ([["B-PER", "E-PER", "O", "S-LOC"], ["B-ORG", "I-ORG", "E-ORG"]], TagScheme.BIOES),
    ([["O", "O"]], TagScheme.IOB2),
])
def test_schemes_are_detected(sentences, scheme):
    assert detect_scheme(sentences, where) is scheme


@pytest.mark.parametrize("sentences, message", [
    ([["O", "PER"]], "sentence 1 token 2: tag 'PER' fits no tag scheme"),
    ([["U-PER"]], "tag 'U-PER' fits no tag scheme"),
    ([["PER-B"]], "tag 'PER-B'"),
    ([["B-PER", "O"], ["O", "I-LOC"]], "sentence 2 token 2: an entity starts with I- here .*sentence 1 token 1"),
    ([["B-PER", "I-LOC", "E-LOC"]], "sentence 1 token 2: BIOES tag 'I-LOC' does not continue"),
    ([["B-PER", "O", "S-LOC"]], "sentence 1 token 2: BIOES entity 'PER' .* not closed"),
    ([["S-PER", "B-LOC"]], "sentence 1 token 2: BIOES entity 'LOC' is not closed .*end of the sentence"),
])
def test_unknown_and_broken_schemes_are_refused_with_the_place(sentences, message):
    with pytest.raises(DataLoadError, match=message):
        detect_scheme(sentences, where)


def test_label_order_is_stable():
    assert order_labels({"I-PER", "B-LOC", "O", "B-PER", "S-LOC"}) == ["O", "B-LOC", "S-LOC", "B-PER", "I-PER"]


def test_pieces_of_one_word_continue_its_entity():
    assert [first_piece("S-X", TagScheme.BIOES, False), continuation("S-X", TagScheme.BIOES, False),
            continuation("S-X", TagScheme.BIOES, True)] == ["B-X", "I-X", "E-X"]
    assert continuation("B-X", TagScheme.IOB2, True) == "I-X"
    assert first_piece("S-X", TagScheme.BIOES, True) == "S-X"
    assert continuation("O", TagScheme.IOB1, False) == "O"
