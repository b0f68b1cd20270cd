"""A study on a task other than sentence classification reads and names its task's headline figure (issue 21
part 3: nothing shows "accuracy" for a task that has none): the interaction's drops, the Pareto axis, the report's
retained figure and `bert-studio study show`'s text."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.recipe import DataRef, ModelRef, Recipe, Step
from core.study.interaction import pair_tables

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples" / "tasks"


def token_figures(speedup, f1, base=0.80, spread=0.01):
    """A token-classification run's figures: entity F1 with its paired retained interval, no accuracy at all."""
    retained = f1 / base
    return {"speedup": speedup, "size_ratio": 1.0, "entity_f1": f1, "baseline_entity_f1": base,
            "entity_f1_retained": retained, "entity_f1_retained_low": retained - spread / base,
            "entity_f1_retained_high": retained + spread / base, "token_accuracy": 0.95}


RUNS = {(2,): token_figures(1.5, 0.78), (3,): token_figures(2.0, 0.77), (2, 3): token_figures(2.4, 0.70),
        (3, 2): token_figures(2.9, 0.74)}


def test_the_interaction_reads_the_drop_of_the_runs_headline_figure():
    (table,) = pair_tables({2: "heads", 3: "ffn"}, RUNS, [2, 3], sitting_noise=0)
    assert table.headline == "entity_f1"  # found in the runs' figures
    assert table.alone_a.drop.value == pytest.approx(0.02) and table.alone_a.drop.spread == pytest.approx(0.01)
    assert table.null_drop == pytest.approx(0.05)
    drop = table.drop_interaction(table.ab)  # 0.10 - 0.05, spreads of three runs in quadrature
    assert drop.value == pytest.approx(0.05) and drop.spread == pytest.approx(math.sqrt(3) * 0.01)
    assert table.order_drop().value == pytest.approx(0.04)


def test_a_regression_study_reads_pearson_drops_in_its_own_units():
    runs = {(1,): {"speedup": 1.2, "size_ratio": 1.0, "pearson": 0.80, "baseline_pearson": 0.90},
            (2,): {"speedup": 1.3, "size_ratio": 1.0, "pearson": 0.85, "baseline_pearson": 0.90}}
    (table,) = pair_tables({1: "a", 2: "b"}, runs, [1, 2], headline="pearson")
    assert table.null_drop == pytest.approx(0.15)
    assert math.isnan(table.alone_a.drop.spread)  # no interval recorded: no Wilson guess for a correlation


def token_order_report():
    """An order study's report on a token-classification recipe, its four trials finished (no database)."""
    from core.study.report import assemble
    from core.study.spec import StudySpec

    data = DataRef(source=str(EXAMPLES / "ner.conll"), train_samples=12, validation_samples=6, test_samples=6)
    recipe = Recipe(task="token-classification", model=ModelRef("tiny"), data=data,
                    steps=[Step("finetune", {"max_steps": 1}), Step("prune.magnitude", {"sparsity": 0.5}),
                           Step("prune.heads", {})])
    spec = StudySpec.from_dict({"kind": "order", "name": "ner order", "recipe": recipe.to_dict(),
                                "order": {"steps": [2, 3]}})
    orders = list(RUNS)
    trials = [SimpleNamespace(number=i, label=" -> ".join(map(str, order)), status="finished",
                              params={"order": list(order)}, run_id=f"{i:032d}", value=math.nan, note=None,
                              worker=None) for i, order in enumerate(orders)]
    study = SimpleNamespace(id="5" * 32, name="ner order", kind="order", status="finished", claimed=4,
                            max_trials=4, trials=trials)
    return assemble(study, spec, {i: RUNS[order] for i, order in enumerate(orders)})


def test_a_token_study_report_names_entity_f1_on_every_axis():
    report = token_order_report()
    assert (report.headline, report.headline_label, report.retained) == ("entity_f1", "Entity F1",
                                                                          "entity_f1_retained")
    assert report.pareto_axes[0] == ("entity_f1_retained", "maximize")
    assert {p.headline for p in report.interaction} == {"entity_f1"}
    assert report.interaction[0].null_drop == pytest.approx(0.05)


def test_study_show_names_the_headline_figure_for_a_token_study(monkeypatch):
    from core.cli import study_cmd
    from core.study import runner

    report = token_order_report()
    monkeypatch.setattr(runner, "study_report", lambda db, study_id: report)
    text = study_cmd._report_text(None, report.study.id)
    assert "Entity F1 retained" in text and "entity F1 drop" in text
    assert "+2.0 pts \u00b1 1.0" in text  # heads alone lose 2 points of entity F1
    assert "accuracy" not in text.lower().replace("token_accuracy", "")


def test_a_built_in_score_reads_each_runs_own_retained_figure():
    """`bert-studio runs --score geomean` and the Saved runs' score column: a token run is scored on its entity F1
    retained (it has no accuracy_retained, and scored NaN), a sentence run on its accuracy retained."""
    from core.scoring import run_scorer

    token = {"entity_f1": 0.7, "entity_f1_retained": 0.9, "speedup": 2.0, "size_ratio": 1.5}
    sentences = {"accuracy": 0.8, "accuracy_retained": 0.9, "speedup": 2.0, "size_ratio": 1.5}
    geomean = run_scorer("geomean")
    assert geomean(token) == pytest.approx((0.9 * 2.0 * 1.5) ** (1 / 3)) == pytest.approx(geomean(sentences))
    assert "geometric mean" in geomean.describe()
    assert run_scorer("fastest")({**token, "entity_f1_retained": 0.99}) == 2.0
    assert math.isnan(run_scorer("speedup * accuracy_retained")(token))  # a formula is taken as written
