"""Scores: built-ins, formulas over the figures, and hostile formulas refused without eval."""

from __future__ import annotations

import builtins
import math

import pytest

from core.scoring import BestWithFloor, Formula, GeometricMean, ScoreError, parse_score, rank

RUN = {"accuracy_retained": 0.99, "speedup": 4.0, "size_ratio": 2.0, "accuracy": 0.8, "latency_ms": 10.0}


def test_geometric_mean_with_weights_and_floor():
    plain = parse_score("geomean")
    assert plain(RUN) == pytest.approx((0.99 * 4.0 * 2.0) ** (1 / 3))
    weighted = parse_score({"kind": "geomean", "weights": {"accuracy_retained": 2, "speedup": 1}})
    assert weighted(RUN) == pytest.approx(math.exp((2 * math.log(0.99) + math.log(4.0)) / 3))
    floored = GeometricMean(min_accuracy_retained=0.995)
    assert floored(RUN) == -math.inf
    assert parse_score(floored.spec())(RUN) == -math.inf  # the spec round-trips


def test_fastest_with_at_least_a_share_retained():
    fastest = parse_score({"kind": "fastest", "min_accuracy_retained": 0.98})
    assert isinstance(fastest, BestWithFloor)
    assert fastest(RUN) == 4.0
    assert fastest({**RUN, "accuracy_retained": 0.97}) == -math.inf
    assert "98 %" in fastest.describe()


def test_formula_computes_from_figures_and_conditionals():
    f = parse_score("speedup * accuracy_retained ** 4 if accuracy_retained >= 0.98 else -inf")
    assert isinstance(f, Formula) and f.names == {"speedup", "accuracy_retained"}
    assert f(RUN) == pytest.approx(4.0 * 0.99 ** 4)
    assert f({**RUN, "accuracy_retained": 0.5}) == -math.inf
    assert parse_score("min(speedup, size_ratio) + log(speedup, 2)")(RUN) == pytest.approx(2.0 + 2.0)
    assert math.isnan(parse_score("speedup / (size_ratio - 2)")(RUN))  # division by zero: no score
    assert math.isnan(parse_score("speedup")({"accuracy": 0.8}))  # a missing figure: no score
    assert parse_score("9 ** 9 ** 9")(RUN) != parse_score("9 ** 9 ** 9")(RUN)  # overflow is NaN, at once


def test_ranking_puts_violations_and_missing_scores_last():
    runs = [{"speedup": 2, "accuracy_retained": 0.99}, {"speedup": 5, "accuracy_retained": 0.9},
            {"accuracy_retained": 0.99}, {"speedup": 3, "accuracy_retained": 0.985}]
    ranked = rank(runs, parse_score("fastest"), lambda r: r)
    assert [r for r, _ in ranked] == [runs[3], runs[0], runs[1], runs[2]]


@pytest.mark.parametrize("text, message", [
    ("speedp * 2", "unknown name 'speedp'; did you mean 'speedup'?"),
    ("speedup *", "syntax error"),
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__('os').system('echo hacked')", "unknown function \"__import__('os').system\""),
    ("().__class__.__bases__[0].__subclasses__()", "unknown function '().__class__"),
    ("speedup.__class__", "attribute access (a.b) is not allowed"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("speedup.real", "attribute access"),
    ("[speedup for x in ()]", "comprehension"),
    ("lambda: 1", "lambda"),
    ("speedup % 2", "operator % is not allowed"),
    ("'text'", "is not a number"),
    ("max(speedup)", "max() takes at least 2 arguments"),
    ("sqrt", "sqrt is a function"),
    ("-" * 60 + "1", "too large"),
    ("1 +" * 300 + "1", "characters long"),
])
def test_hostile_and_broken_formulas_are_refused_with_a_reason(text, message, monkeypatch):
    def no_eval(*args, **kwargs):  # the parser must never reach Python's evaluator
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", no_eval)
    monkeypatch.setattr(builtins, "exec", no_eval)
    with pytest.raises(ScoreError) as err:
        parse_score(text)
    assert message in str(err.value)


def test_bad_built_in_specs_name_the_problem():
    with pytest.raises(ScoreError, match="unknown score kind 'best'"):
        parse_score({"kind": "best"})
    with pytest.raises(ScoreError, match="weights: unknown figure 'sped'; did you mean 'speedup'"):
        parse_score({"kind": "geomean", "weights": {"sped": 1}})
    with pytest.raises(ScoreError, match=r"a share: 0.98 for 98 %"):
        parse_score({"kind": "fastest", "min_accuracy_retained": 98})
    with pytest.raises(ScoreError, match="unknown keys"):
        parse_score({"kind": "smallest", "weight": 1})


# -- the task's retained figure (issue 21) --------------------------------------------------------------------
NER_RUN = {"entity_f1_retained": 0.99, "speedup": 4.0, "size_ratio": 2.0}


@pytest.mark.parametrize("task, name", [(None, "accuracy_retained"), ("sequence-classification", "accuracy_retained"),
                                        ("token-classification", "entity_f1_retained"),
                                        ("question-answering", "answer_f1_retained"),
                                        ("regression", "pearson_retained"), ("multi_label", "micro_f1_retained")])
def test_retained_figure_is_the_tasks_headline(task, name):
    from core.scoring import retained_figure
    from core.tasks.kinds import TaskKind

    assert retained_figure(task) == name
    if task:
        assert retained_figure(TaskKind.parse(task)) == name
    with pytest.raises(ScoreError, match="unknown task 'ner'"):
        retained_figure("ner")


def test_built_in_scores_read_the_tasks_retained_figure():
    geomean = parse_score("geomean", task="token-classification")
    assert geomean.names == {"entity_f1_retained", "speedup", "size_ratio"}
    assert geomean(NER_RUN) == pytest.approx((0.99 * 4.0 * 2.0) ** (1 / 3))
    assert math.isnan(parse_score("geomean")(NER_RUN))  # a sentence-classification score finds no accuracy there
    fastest = parse_score({"kind": "fastest", "min_accuracy_retained": 0.98}, task="token-classification")
    assert fastest(NER_RUN) == 4.0 and fastest({**NER_RUN, "entity_f1_retained": 0.9}) == -math.inf
    assert "baseline's entity f1" in fastest.describe() and "accuracy" not in fastest.describe()
    floored = parse_score({"kind": "geomean", "min_accuracy_retained": 0.995}, task="question-answering")
    assert floored({"answer_f1_retained": 0.99, "speedup": 2.0, "size_ratio": 1.0}) == -math.inf
    assert "answer f1 retained" in floored.describe()
    smallest = parse_score("smallest", task="regression")
    assert smallest({"pearson_retained": 1.01, "speedup": 1.0, "size_ratio": 3.0}) == 3.0
