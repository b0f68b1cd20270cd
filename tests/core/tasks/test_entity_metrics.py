import re
from pathlib import Path

import pytest

from core.tasks.metrics.entities import score_entities, sentence_rows
from core.tasks.tags import TagScheme

DATA = Path(__file__).parent / "data"


def read_sample():
    gold, predicted, g, p = [], [], [], []
    for line in (DATA / "conlleval_sample.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if g:
                gold.append(g), predicted.append(p)
            g, p = [], []
            continue
        fields = line.split(" ")
        g.append(fields[-2])
        p.append(fields[-1])
    if g:
        gold.append(g), predicted.append(p)
    return gold, predicted


def conlleval_reference():
    text = (DATA / "conlleval_sample.out").read_text(encoding="utf-8")
    counts = re.search(r"processed (\d+) tokens with (\d+) phrases; found: (\d+) phrases; correct: (\d+)", text)
    overall = re.search(r"accuracy:\s+([\d.]+)%; precision:\s+([\d.]+)%; recall:\s+([\d.]+)%; FB1:\s+([\d.]+)", text)
    types = {m[1]: (float(m[2]), float(m[3]), float(m[4]), int(m[5])) for m in re.finditer(
        r"^\s+(\w+): precision:\s+([\d.]+)%; recall:\s+([\d.]+)%; FB1:\s+([\d.]+)\s+(\d+)$", text, re.M)}
    return [int(x) for x in counts.groups()], [float(x) for x in overall.groups()], types


def test_entity_figures_match_conlleval_on_the_seqeval_sample():
    gold, predicted = read_sample()
    (tokens, phrases, found, correct), (accuracy, precision, recall, fb1), types = conlleval_reference()
    rows = sentence_rows(gold, predicted, TagScheme.IOB2)
    assert rows[:, 4].sum() == tokens == 961
    assert (rows[:, 2].sum(), rows[:, 1].sum(), rows[:, 0].sum()) == (phrases, found, correct) == (459, 539, 371)
    figures = score_entities(gold, predicted, TagScheme.IOB2, resamples=50).figures
    assert 100 * figures["token_accuracy"] == pytest.approx(accuracy, abs=0.005)
    assert 100 * figures["entity_precision"] == pytest.approx(precision, abs=0.005)
    assert 100 * figures["entity_recall"] == pytest.approx(recall, abs=0.005)
    assert 100 * figures["entity_f1"] == pytest.approx(fb1, abs=0.005)
    # per type, as conlleval prints them: found count and F1
    for kind, (_, _, type_f1, type_found) in types.items():
        g = [[t if t.endswith("-" + kind) else "O" for t in s] for s in gold]
        p = [[t if t.endswith("-" + kind) else "O" for t in s] for s in predicted]
        sub = sentence_rows(g, p, TagScheme.IOB2)
        assert sub[:, 1].sum() == type_found, kind
        assert 100 * score_entities(g, p, TagScheme.IOB2, resamples=10).figures["entity_f1"] == pytest.approx(
            type_f1, abs=0.005), kind


def test_figures_match_seqeval_in_both_modes():
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    gold, predicted = read_sample()
    figures = score_entities(gold, predicted, TagScheme.IOB2, resamples=10).figures
    assert figures["entity_f1"] == pytest.approx(f1_score(gold, predicted))
    assert figures["strict_entity_f1"] == pytest.approx(f1_score(gold, predicted, mode="strict", scheme=IOB2))
    assert figures["strict_entity_precision"] == pytest.approx(
        precision_score(gold, predicted, mode="strict", scheme=IOB2))
    assert figures["strict_entity_recall"] == pytest.approx(recall_score(gold, predicted, mode="strict", scheme=IOB2))
    assert figures["strict_entity_f1"] < figures["entity_f1"]  # I- after O starts an entity only leniently


def test_hand_counted_entities_and_token_accuracy():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    predicted = [["B-PER", "I-PER", "O", "O"], ["I-ORG", "O"]]
    scored = score_entities(gold, predicted, TagScheme.IOB2, resamples=200)
    figures = scored.figures
    # lenient: PER right, ORG right (I-ORG after O opens it), LOC missed -> tp 2, predicted 2, gold 3
    assert figures["entity_precision"] == 1.0 and figures["entity_recall"] == pytest.approx(2 / 3)
    assert figures["entity_f1"] == pytest.approx(0.8)
    # strict IOB2: I-ORG opens nothing -> tp 1, predicted 1, gold 3
    assert figures["strict_entity_f1"] == pytest.approx(2 * 1 / (1 + 3))
    assert figures["token_accuracy"] == pytest.approx(4 / 6)
    results = scored.results()
    assert results["entity_f1_low"] <= results["entity_f1"] <= results["entity_f1_high"]
    assert results["evaluated"] == 2 and results["entities"] == 3


def test_bioes_entities_in_both_modes():
    gold = [["B-PER", "E-PER", "S-LOC"]]
    predicted = [["B-PER", "E-PER", "B-LOC"]]
    figures = score_entities(gold, predicted, TagScheme.BIOES, resamples=10).figures
    assert figures["entity_f1"] == 1.0  # leniently a lone B-LOC is the LOC entity
    assert figures["strict_entity_f1"] == pytest.approx(2 * 1 / (1 + 2))  # B-LOC never closed: no strict entity


def test_unequal_sequences_are_refused():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        sentence_rows([["O", "O"]], [["O"]], TagScheme.IOB2)


def test_iob1_entities_split_by_b_tags():
    gold = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]]  # PER, then two adjacent LOC entities
    predicted = [["I-PER", "I-PER", "O", "I-LOC", "I-LOC"]]  # PER, one LOC entity of two words
    figures = score_entities(gold, predicted, TagScheme.IOB1, resamples=10).figures
    for mode in ("entity", "strict_entity"):
        assert figures[f"{mode}_precision"] == 0.5 and figures[f"{mode}_recall"] == pytest.approx(1 / 3)
