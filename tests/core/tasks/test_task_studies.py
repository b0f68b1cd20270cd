"""Studies of the task kinds: the built-in score reads the task's retained figure, the pruner watches the task's
validation curve, and a figure where smaller is better (MSE) is minimised (issue 21)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step
from core.study.objective import Objective, default_direction
from core.study.runner import prune_metric
from core.study.spec import StudySpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

EXAMPLES = Path(__file__).parents[3] / "resources" / "examples" / "tasks"


SEARCH = {"search": {"params": [{"step": 1, "setting": "max_steps", "low": 1, "high": 2}]}, "budget": {"trials": 2}}


def regression_recipe(*steps: Step) -> Recipe:
    data = DataRef(str(EXAMPLES / "regression.csv"), label_column="score", target_scaling="standard", max_length=32,
                   train_samples=48, validation_samples=12, test_samples=16)
    return Recipe(name="scores", task="regression", model=ModelRef("tiny"), data=data, steps=list(steps),
                  evaluation=EvaluationSettings(max_samples=16, latency_repeats=1, latency_batch_size=4))


@pytest.mark.parametrize("task, key", [(None, "val/accuracy"), ("sequence-classification", "val/accuracy"),
                                       ("token-classification", "val/entity_f1"),
                                       ("question-answering", "val/answer_f1"), ("regression", "val/pearson"),
                                       ("multi-label", "val/micro_f1")])
def test_the_pruner_watches_the_tasks_validation_curve(task, key):
    assert prune_metric(task) == (key, 1.0)


def test_a_curve_where_smaller_is_better_is_reported_negated(monkeypatch):
    from core.tasks.figures import HEADLINE
    from core.tasks.kinds import TaskKind

    monkeypatch.setitem(HEADLINE, TaskKind.REGRESSION, "mse")  # were MSE the regression headline
    assert prune_metric("regression") == ("val/mse", -1.0)


def test_mse_is_minimised_as_an_objective():
    assert default_direction("mse") == "minimize" and default_direction("pearson") == "maximize"
    recipe = regression_recipe(Step("finetune"))
    one = StudySpec.from_dict({"kind": "search", "recipe": recipe.to_dict(), "objective": "mse",
                               **SEARCH})
    objective = Objective.of(one)
    assert objective.score({"mse": 0.5}) > objective.score({"mse": 2.0})  # the smaller error ranks first
    several = StudySpec.from_dict({"kind": "search", "recipe": recipe.to_dict(), "objective": ["mse", "speedup"],
                                   **SEARCH})
    assert Objective.of(several).directions == ["minimize", "maximize"]
    assert Objective.of(several).score({"mse": 0.5, "speedup": 1}) > Objective.of(several).score({"mse": 2.0})


def test_a_regression_search_study_prunes_on_pearson_and_scores_pearson_retained(tmp_path, monkeypatch):
    import optuna

    from core.engine.cache import StepCache
    from core.study.runner import StudyRunner, create_study, study_report
    from core.study.storage import close_storage, optuna_storage

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = regression_recipe(Step("finetune", {"max_steps": 2, "batch_size": 8, "eval_every": 1,
                                                   "eval_samples": 12, "learning_rate": 5e-3}))
    spec = StudySpec.from_dict({"kind": "search", "recipe": template.to_dict(), "budget": {"trials": 2},
                                "search": {"params": [{"step": 1, "setting": "learning_rate", "low": 1e-3,
                                                       "high": 1e-2, "log": True}]},
                                "objective": {"kind": "geomean"}})
    study_id = create_study(spec, url)
    reported: list[float] = []
    real_report = optuna.trial.Trial.report
    monkeypatch.setattr(optuna.trial.Trial, "report", lambda self, v, s: (reported.append(v), real_report(self, v, s)))
    monkeypatch.setattr(optuna.trial.Trial, "should_prune", lambda self: self.number == 1)
    worker = StudyRunner(url, study_id, cache=StepCache(tmp_path / "cache"), workdir_root=tmp_path / "runs",
                         poll_s=0.2)
    assert worker.run().status == "finished"
    report = study_report(url, study_id)
    assert [t.status for t in report.trials] == ["finished", "pruned"], [t.note for t in report.trials]
    assert reported and all(-1.0 <= v <= 1.0 or math.isnan(v) for v in reported)  # Pearson's r, not accuracy
    first = report.trials[0]
    assert report.pareto_axes[0] == ("pearson_retained", "maximize")  # the front is drawn on the task's figure
    assert "pearson_retained" in first.figures and "accuracy_retained" not in first.figures
    expected = (first.figures["pearson_retained"] * first.figures["speedup"] * first.figures["size_ratio"]) ** (1 / 3)
    if first.figures["pearson_retained"] > 0:
        assert first.value == pytest.approx(expected)
    storage = optuna_storage(url)
    try:
        assert optuna.load_study(study_name=study_id, storage=storage).get_trials()[0].intermediate_values
    finally:
        close_storage(storage)
    from core.metrics.figures import format_figure as figure
    from core.cli.study_cmd import _report_text

    shown = _report_text(url, study_id).splitlines()
    first_row = next(line for line in shown if line.lstrip().startswith("1 "))
    assert figure("pearson_retained", first.figures["pearson_retained"]) in first_row  # the task's retained


def test_a_study_without_an_objective_maximises_the_tasks_retained_figure():
    recipe = regression_recipe(Step("finetune"))
    spec = StudySpec.from_dict({"kind": "search", "recipe": recipe.to_dict(), **SEARCH})
    assert spec.objective == "pearson_retained"
    assert Objective.of(spec).score({"pearson_retained": 0.9}) == pytest.approx(0.9)
    from tests.conftest import tiny_recipe

    classic = StudySpec.from_dict({"kind": "search", "recipe": tiny_recipe(Step("finetune")).to_dict(), **SEARCH})
    assert classic.objective == "accuracy_retained"


def test_a_constraint_or_objective_on_another_tasks_figure_is_refused_with_the_tasks_own():
    from core.study.spec_fields import StudyError

    recipe = regression_recipe(Step("finetune"))
    with pytest.raises(StudyError) as caught:
        StudySpec.from_dict({"kind": "search", "recipe": recipe.to_dict(), "objective": ["accuracy_retained", "speedup"],
                             "constraints": ["accuracy_retained >= 98 %", "speedup >= 2"], **SEARCH})
    said = str(caught.value)
    assert "constraints[1]" in said and "objective[1]" in said and "constraints[2]" not in said
    assert "'accuracy_retained' is a figure of sequence-classification runs" in said and "'pearson_retained'" in said
    # the task's own figures, and figures every run records, pass
    spec = StudySpec.from_dict({"kind": "search", "recipe": recipe.to_dict(), "objective": ["pearson_retained", "speedup"],
                                "constraints": ["mse <= 2", "speedup >= 2"], **SEARCH})
    assert [c.figure for c in spec.constraints] == ["mse", "speedup"]
