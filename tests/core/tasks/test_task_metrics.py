import math

import numpy as np
import pytest

from core.metrics.intervals import paired_retained
from core.tasks.figures import HEADLINE, TASK_FIGURES, figures_for, headline
from core.tasks.kinds import TaskKind
from core.tasks.metrics.bootstrap import bootstrap, paired_ratio
from core.tasks.metrics.multilabel import score_multilabel, sigmoid
from core.tasks.metrics.qa import best_null_threshold, exact_match, normalize_answer, score_answers, token_f1
from core.tasks.metrics.regression import pearson, score_regression, spearman
from core.tasks.qa_spans import Answer


def test_the_bootstrap_is_the_projects_paired_bootstrap():
    rng = np.random.default_rng(5)
    candidate, baseline = rng.random(120) < 0.8, rng.random(120) < 0.9
    mine = paired_ratio(candidate[:, None], baseline[:, None], lambda r: float(r[:, 0].mean()))
    theirs = paired_retained(candidate.tolist(), baseline.tolist())
    assert (mine.value, mine.low, mine.high) == pytest.approx((theirs.value, theirs.low, theirs.high))


def test_bootstrap_interval_covers_the_point_and_narrows_with_more_examples():
    rng = np.random.default_rng(0)
    small = bootstrap(rng.random((40, 1)), lambda r: {"mean": float(r.mean())})["mean"]
    large = bootstrap(rng.random((4000, 1)), lambda r: {"mean": float(r.mean())})["mean"]
    assert small.low < small.value < small.high and large.low < large.value < large.high
    assert (large.high - large.low) < (small.high - small.low) / 5


def test_squad_normalisation_em_and_f1_by_hand():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple and a pear") == "apple and pear"
    assert exact_match("the Oslo.", "Oslo") == 1.0
    # prediction "oslo in norway" (3 words) vs gold "in oslo" (2): 2 common -> P 2/3, R 1 -> F1 0.8
    assert token_f1("Oslo in Norway", "in Oslo") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0 and token_f1("", "Oslo") == 0.0 and token_f1("a", "the") == 1.0


def test_qa_figures_over_questions_with_v2_split():
    gold = {"q1": ["Oslo", "the city of Oslo"], "q2": ["1980"], "q3": [], "q4": []}
    predictions = {"q1": "city of Oslo", "q2": "in 1980", "q3": "", "q4": "Lima"}
    scored = score_answers(predictions, gold, resamples=300)
    f = scored.figures
    # q1: EM 1 (gold 2 normalises to "city of oslo"); q2: EM 0, F1 2*(1/2*1)/(1/2+1) = 2/3; q3: 1; q4: 0
    assert f["exact_match"] == pytest.approx(2 / 4)
    assert f["answer_f1"] == pytest.approx((1 + 2 / 3 + 1 + 0) / 4)
    assert f["has_answer_f1"] == pytest.approx((1 + 2 / 3) / 2) and f["no_answer_f1"] == pytest.approx(0.5)
    r = scored.results()
    assert r["answer_f1_low"] <= r["answer_f1"] <= r["answer_f1_high"] and r["unanswerable"] == 2
    with pytest.raises(ValueError, match="have no prediction"):
        score_answers({}, gold)


def test_best_null_threshold_by_hand():
    gold = {"a": ["Oslo"], "b": [], "c": ["Lima"]}
    answers = {"a": Answer("Oslo", 5.0, -3.0), "b": Answer("Lima", 1.0, 1.0), "c": Answer("Peru", 2.0, 2.0)}
    # answer when diff <= t: t < -3 -> F1 (0 + 1 + 0)/3; t in [-3, 1) -> (1 + 1 + 0)/3; t in [1, 2) -> (1+0+0)/3
    threshold, f1 = best_null_threshold(answers, gold)
    assert threshold == -3.0 and f1 == pytest.approx(2 / 3)


def test_regression_figures_by_hand_and_against_scipy():
    from scipy import stats

    predictions, targets = [1.0, 2.0, 3.0, 5.0], [1.0, 3.0, 2.0, 4.0]
    f = score_regression(predictions, targets, resamples=200).figures
    assert f["mse"] == pytest.approx((0 + 1 + 1 + 1) / 4)
    assert f["spearman"] == pytest.approx(0.8)  # ranks 1 2 3 4 vs 1 3 2 4: 1 - 6*2/(4*15)
    assert f["pearson"] == pytest.approx(stats.pearsonr(predictions, targets)[0])
    tied = [1.0, 1.0, 2.0, 3.0, 3.0]
    other = [2.0, 1.0, 2.0, 5.0, 4.0]
    assert spearman(tied, other) == pytest.approx(stats.spearmanr(tied, other)[0])
    assert math.isnan(pearson([1.0, 1.0], [1.0, 2.0]))


def test_regression_retained_is_paired():
    rng = np.random.default_rng(1)
    target = rng.normal(size=200)
    teacher = score_regression(target + rng.normal(scale=0.3, size=200), target, resamples=300)
    student = score_regression(target + rng.normal(scale=0.6, size=200), target, resamples=300)
    retained = student.retained(teacher, "pearson", resamples=300)
    assert retained.value == pytest.approx(student.figures["pearson"] / teacher.figures["pearson"])
    assert retained.low < retained.value < retained.high < 1.0


def test_multilabel_figures_by_hand():
    gold = [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    probabilities = [[0.9, 0.2, 0.6], [0.7, 0.4, 0.1], [0.1, 0.2, 0.3]]
    f = score_multilabel(probabilities, gold, threshold=0.5, resamples=100).figures
    # label 0: tp 2; label 1: fn 1; label 2: fp 1 -> micro 2*2/(2*2 + 1 + 1) = 2/3
    assert f["micro_f1"] == pytest.approx(2 / 3)
    assert f["macro_f1"] == pytest.approx((1 + 0 + 0) / 3)
    assert f["subset_accuracy"] == pytest.approx(1 / 3)
    lower = score_multilabel(probabilities, gold, threshold=0.35, resamples=100).figures
    assert lower["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 0))  # label 1 found too, label 2 still wrong
    # a label absent from gold and predictions is left out of the macro mean
    absent = score_multilabel([[0.9, 0.1], [0.2, 0.1]], [[1, 0], [0, 0]], resamples=10).figures
    assert absent["macro_f1"] == 1.0
    assert sigmoid([0.0])[0] == 0.5


def test_each_task_names_its_figures_and_headline():
    assert headline("token-classification").key == "entity_f1"
    assert headline(TaskKind.QUESTION_ANSWERING).key == "answer_f1"
    assert headline("regression").key == "pearson" and headline("multi-label").key == "micro_f1"
    assert headline("sequence-classification").key == "accuracy"
    for kind in TaskKind:
        keys = [f.key for f in figures_for(kind)]
        assert HEADLINE[kind] in keys and len(keys) == len(set(keys))
    every = [f.key for figures in TASK_FIGURES.values() for f in figures]
    assert len(every) == len(set(every))  # a key means one thing in every task
