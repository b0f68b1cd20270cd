"""The study runner on tiny models: order, grid and search studies, stop and resume, the CLI's study commands."""

from __future__ import annotations

import math
import threading

import pytest

from core.recipe import Step
from core.study.runner import StudyRunner, TrialFinished, TrialStarted, create_study, study_report
from core.study.spec import StudySpec
from tests.conftest import tiny_recipe


def fast(*steps: Step):
    """A tiny recipe measured quickly: trials here test the plumbing, not the figures."""
    recipe = tiny_recipe(*steps)
    recipe.evaluation.latency_repeats = 1
    recipe.evaluation.latency_batch_size = 4
    recipe.evaluation.max_samples = 32
    return recipe


HEADS = Step("prune.heads", {"amount": 0.5, "batches": 2, "batch_size": 8})


def runner(url, study_id, tmp_path, task, **kwargs):
    from core.engine.cache import StepCache

    return StudyRunner(url, study_id, cache=StepCache(tmp_path / "cache"), workdir_root=tmp_path / "runs", task=task,
                       poll_s=0.2, **kwargs)


def test_order_study_runs_each_step_alone_and_both_orders_from_one_teacher(tmp_path, tiny_task, capsys):
    from core.cli import main
    from core.db import Repository, open_database

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = fast(Step("finetune", {"max_steps": 2}), HEADS, Step("quant.dynamic_int8"))
    spec = StudySpec.from_dict({"kind": "order", "name": "order", "recipe": template.to_dict(),
                                "order": {"steps": [2, 3]}})
    study_id = create_study(spec, url)
    seen: list = []
    work = runner(url, study_id, tmp_path, tiny_task)
    work.bus.subscribe(TrialStarted, seen.append)
    work.bus.subscribe(TrialFinished, seen.append)
    outcome = work.run()
    assert outcome.status == "finished" and outcome.trials == [0, 1, 2, 3]
    assert [type(e).__name__ for e in seen] == ["TrialStarted", "TrialFinished"] * 4

    report = study_report(url, study_id)
    assert report.study.status == "finished"
    assert [(t.params["order"], t.status) for t in report.trials] == [
        ([2], "finished"), ([3], "finished"), ([2, 3], "finished"), ([3, 2], "skipped")]
    assert "cannot run after" in report.trials[3].note  # int8, then pruning: refused, with the reason
    with open_database(url) as db:
        repo = Repository(db)
        runs = {t.number: repo.get_run(t.run_id) for t in report.trials if t.run_id}
        assert {r.status for r in runs.values()} == {"finished"} and len(repo.list_runs()) == 3
        # One teacher: the first trial fine-tuned it, every later trial reused it (and 2->3 reused 2 too).
        first = runs[0].id
        assert [s.summary.get("reused_from") for s in runs[1].steps] == [first, None]
        assert [s.summary.get("reused_from") for s in runs[2].steps] == [first, first, None]
    table = report.interaction
    assert len(table) == 1 and table[0].ab is not None and table[0].ba is None
    assert table[0].null_speedup == pytest.approx(report.trials[0].figures["speedup"]
                                                  * report.trials[1].figures["speedup"])
    assert report.best is not None and report.best.status == "finished" and report.pareto

    assert main(["study", "show", study_id[:8], "--db", url]) == 0
    out = capsys.readouterr().out
    assert "no interaction predicts" in out and "did not run" in out and "Pareto front" in out
    assert f"best: trial {report.best.number + 1}" in out
    assert main(["study", "list", "--db", url]) == 0
    assert study_id[:8] in capsys.readouterr().out


def test_grid_study_ranks_by_score_under_constraints(any_db_url, tmp_path, tiny_task):
    template = fast(Step("finetune", {"max_steps": 2}), HEADS)
    spec = StudySpec.from_dict({"kind": "grid", "recipe": template.to_dict(), "grid": {"variants": [
        {"name": "teacher only", "skip": [2]}, {"name": "half the heads"}]},
        "objective": "size_ratio", "constraints": ["size_ratio >= 1.001"]})
    study_id = create_study(spec, any_db_url)
    assert runner(any_db_url, study_id, tmp_path, tiny_task).run().status == "finished"
    report = study_report(any_db_url, study_id)
    teacher, half = report.trials
    assert teacher.status == half.status == "finished"
    assert teacher.figures["size_ratio"] == pytest.approx(1.0) and not teacher.feasible
    assert half.value == pytest.approx(half.figures["size_ratio"]) and half.feasible
    assert report.best == half


def test_search_study_proposes_within_ranges_prunes_and_spends_its_budget(tmp_path, tiny_task, monkeypatch):
    import optuna

    from core.study.storage import close_storage, optuna_storage

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = fast(Step("finetune", {"max_steps": 2}), HEADS,
                    Step("finetune", {"max_steps": 2, "eval_every": 1, "eval_samples": 16}))
    spec = StudySpec.from_dict({"kind": "search", "recipe": template.to_dict(), "budget": {"trials": 3},
                                "search": {"params": [{"step": 2, "setting": "amount", "low": 0.25, "high": 0.75}]},
                                "objective": {"kind": "geomean"}, "constraints": ["accuracy_retained >= 0.5"]})
    study_id = create_study(spec, url)
    # Optuna's median pruner decides on real curves; here the third trial is told to stop, to see it obeyed.
    monkeypatch.setattr(optuna.trial.Trial, "should_prune", lambda self: self.number == 2)
    assert runner(url, study_id, tmp_path, tiny_task).run().status == "finished"

    report = study_report(url, study_id)
    assert [t.status for t in report.trials] == ["finished", "finished", "pruned"]
    assert all(0.25 <= t.params["2.prune.heads.amount"] <= 0.75 for t in report.trials)
    storage = optuna_storage(url)
    ostudy = optuna.load_study(study_name=study_id, storage=storage)
    states = [t.state for t in ostudy.get_trials()]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2 + [optuna.trial.TrialState.PRUNED]
    done = ostudy.get_trials()[0]
    assert done.intermediate_values  # the validation curve went to the pruner
    assert done.values[0] == pytest.approx(report.trials[0].value)
    assert list(done.constraints) == ["accuracy_retained >= 0.5"]
    assert done.constraints["accuracy_retained >= 0.5"] <= 0  # it held, and the sampler knows
    assert report.study.claimed == 3 and report.best is not None
    close_storage(storage)
    # Optuna's tables are not in the studio's database, and ours are not in Optuna's.
    import sqlalchemy as sa

    ours = sa.inspect(sa.create_engine(url)).get_table_names()
    assert "trials" not in ours and "study_trials" in ours


def test_several_objectives_give_a_pareto_front_and_a_time_budget_stops(any_db_url, tmp_path, tiny_task):
    url = any_db_url  # on PostgreSQL, Optuna's tables live in a schema of their own
    template = fast(Step("finetune", {"max_steps": 2}), HEADS)
    base = {"kind": "search", "recipe": template.to_dict(),
            "search": {"params": [{"step": 2, "setting": "amount", "choices": [0.25, 0.5]}], "sampler": "nsga2"},
            "objective": ["accuracy_retained", {"figure": "size_bytes", "direction": "minimize"}]}
    study_id = create_study(StudySpec.from_dict({**base, "budget": {"trials": 2}}), url)
    assert runner(url, study_id, tmp_path, tiny_task).run().status == "finished"
    report = study_report(url, study_id)
    assert report.pareto_axes == (("accuracy_retained", "maximize"), ("size_bytes", "minimize"))
    assert report.pareto and all(t.status == "finished" for t in report.pareto)
    late = create_study(StudySpec.from_dict({**base, "budget": {"seconds": 0.001}}), url)
    outcome = runner(url, late, tmp_path, tiny_task).run()
    assert outcome.trials == [] and outcome.status == "finished"
    import sqlalchemy as sa

    from core.study.storage import optuna_place

    optuna_url, engine_kwargs = optuna_place(url)
    engine = sa.create_engine(optuna_url, **engine_kwargs)
    with engine.connect() as conn:  # Optuna's own tables, apart from ours
        names = set(sa.inspect(conn).get_table_names())
        assert {"studies", "trials", "alembic_version"} <= names and "study_trials" not in names
    engine.dispose()


def test_stop_then_resume_runs_the_stopped_trial_again(tmp_path, tiny_task):
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = fast(Step("finetune", {"max_steps": 2}), HEADS)
    spec = StudySpec.from_dict({"kind": "grid", "recipe": template.to_dict(), "grid": {"variants": [
        {"name": "a", "settings": {2: {"amount": 0.25}}}, {"name": "b"}]}})
    study_id = create_study(spec, url)
    work = runner(url, study_id, tmp_path, tiny_task)
    started = threading.Event()
    work.bus.subscribe(TrialStarted, lambda e: started.set())
    work.start()
    assert started.wait(120)
    work.stop(study=True)
    outcome = work.join(120)
    assert outcome.status == "cancelled" and outcome.trials == [0]
    report = study_report(url, study_id)
    assert [t.status for t in report.trials] == ["cancelled"] and report.trials[0].note == "stopped by the user"

    assert StudyRunner(url, study_id, poll_s=0.2).run().trials == []  # a stopped study takes no new trials
    resumed = runner(url, study_id, tmp_path, tiny_task, resume=True).run()
    assert resumed.status == "finished" and resumed.trials == [0, 1]
    report = study_report(url, study_id)
    assert [(t.label, t.status) for t in report.trials] == [("a", "finished"), ("b", "finished")]
    assert not math.isnan(report.trials[0].value)


def test_study_run_stop_and_resume_from_the_command_line(tmp_path, capsys):
    import yaml

    from core.cli import main

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = fast(Step("finetune", {"max_steps": 2}))
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"format": "bert-studio-study", "version": 1, "name": "cli", "kind": "grid",
                                    "recipe": template.to_dict(), "grid": {"variants": [{"name": "only"}]}}))
    assert main(["study", "run", str(path), "--quiet", "--db", url]) == 0
    captured = capsys.readouterr()
    study_id = captured.out.split()[1]
    assert "(grid): cli" in captured.out and "finished: this worker ran 1 trial(s)" in captured.out
    assert "trial 1 finished: only" in captured.err and f"study worker {study_id}" in captured.err
    assert "best: trial 1" in captured.out

    assert main(["study", "stop", study_id, "--db", url]) == 0
    assert main(["study", "worker", study_id, "--quiet", "--db", url]) == 0
    assert "cancelled: this worker ran 0 trial(s)" in capsys.readouterr().out
    assert main(["study", "worker", study_id, "--resume", "--quiet", "--db", url]) == 0
    assert "finished: this worker ran 0 trial(s)" in capsys.readouterr().out  # nothing was left to run
    for action in ("show", "worker"):
        assert main(["study", action, "nosuchstudy", "--db", url]) == 2
        assert "no study with id 'nosuchstudy'" in capsys.readouterr().err


def test_a_slot_claimed_but_not_yet_recorded_is_waited_for(tmp_path):
    import time

    from core.db import StudyRepository, open_database

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = fast(Step("finetune", {"max_steps": 2}))
    spec = StudySpec.from_dict({"kind": "grid", "recipe": template.to_dict(), "grid": {"variants": [{"name": "a"}]}})
    with open_database(url) as db:
        studies = StudyRepository(db)
        study_id = create_study(spec, url)
        assert studies.claim_slot(study_id) == 0  # another worker took the only slot and has not recorded it yet

        def other_worker() -> None:
            time.sleep(1.0)
            studies.add_trial(study_id, 0, label="a", worker="elsewhere:1:x")
            time.sleep(0.5)
            studies.end_trial(study_id, 0, "finished", value=1.0)

        thread = threading.Thread(target=other_worker)
        t0 = time.monotonic()
        thread.start()
        outcome = StudyRunner(url, study_id, cache=None, poll_s=0.1, grace_s=30).run()
        thread.join()
        assert outcome.trials == [] and outcome.status == "finished" and time.monotonic() - t0 >= 1.5
        assert [t.status for t in studies.trials(study_id)] == ["finished"]

        lost = create_study(spec, url)
        assert studies.claim_slot(lost) == 0  # ...and this one never records it: waited for grace_s only
        t0 = time.monotonic()
        assert StudyRunner(url, lost, cache=None, poll_s=0.1, grace_s=1).run().status == "finished"
        assert 1 <= time.monotonic() - t0 < 20
