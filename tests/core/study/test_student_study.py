"""A study that compares a transformer student against a BiLSTM (#24): a grid whose varied setting is
``distill.student_init``'s ``architecture``; both trials recorded with their figures and parameter counts."""

from __future__ import annotations

import pytest

from core.recipe import Step
from core.study.runner import create_study, study_report
from core.study.spec import StudySpec
from tests.core.study.test_runner import fast, runner

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BILSTM = {"architecture": "bilstm", "embedding_size": 16, "lstm_hidden_size": 8, "mlp_size": 8}


def test_a_grid_study_compares_a_transformer_student_with_a_bilstm(tmp_path, tiny_task, capsys):
    from core.cli import main
    from core.db import Repository, open_database

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = fast(Step("finetune", {"max_steps": 2}),
                    Step("distill.student_init", {"mode": "config", "num_layers": 1}),
                    Step("distill.train", {"max_steps": 2, "batch_size": 16}))
    spec = StudySpec.from_dict({"kind": "grid", "name": "students", "recipe": template.to_dict(),
                                "grid": {"variants": [{"name": "transformer"},
                                                      {"name": "bilstm", "settings": {2: BILSTM}}]},
                                "objective": "size_ratio"})
    study_id = create_study(spec, url)
    assert runner(url, study_id, tmp_path, tiny_task).run().status == "finished"
    report = study_report(url, study_id)
    transformer, bilstm = report.trials
    assert transformer.status == bilstm.status == "finished", (transformer.note, bilstm.note)
    with open_database(url) as db:
        repo = Repository(db)
        runs = {t.label: repo.get_run(t.run_id) for t in report.trials}
    lstm = runs["bilstm"].results
    # the BiLSTM's parameters: its embeddings (the teacher's vocabulary, 16 wide), two LSTMs, the MLP and output
    vocab = 30522
    expected = vocab * 16 + 2 * (4 * 8 * (16 + 8) + 2 * 4 * 8) + (16 * 8 + 8) + (8 * 2 + 2)
    assert lstm["parameters"] == expected
    assert runs["transformer"].results["parameters"] != expected
    for trial in report.trials:
        assert trial.figures["accuracy"] == pytest.approx(runs[trial.label].results["accuracy"])
        assert trial.value == pytest.approx(trial.figures["size_ratio"])
    assert report.best is not None and report.best.label in ("transformer", "bilstm")
    assert main(["study", "show", study_id[:8], "--db", url]) == 0
    out = capsys.readouterr().out
    assert "transformer" in out and "bilstm" in out


def test_a_search_over_the_architecture_and_a_transformer_only_step_after_a_bilstm(tmp_path, tiny_task):
    url = f"sqlite:///{tmp_path / 'studio.db'}"
    template = fast(Step("finetune", {"max_steps": 2}),
                    Step("distill.student_init", {"mode": "config", "num_layers": 1, **{k: v for k, v in BILSTM.items()
                                                                                         if k != "architecture"}}),
                    Step("prune.heads", {"amount": 0.5, "batches": 1, "batch_size": 8}),
                    Step("distill.train", {"max_steps": 2, "batch_size": 16}))
    grid = StudySpec.from_dict({"kind": "grid", "recipe": template.to_dict(), "grid": {"variants": [
        {"name": "bilstm, heads pruned", "settings": {2: {"architecture": "bilstm"}}},
        {"name": "bilstm", "settings": {2: {"architecture": "bilstm"}}, "skip": [3]}]}})
    study_id = create_study(grid, url)
    assert runner(url, study_id, tmp_path, tiny_task).run().status == "finished"
    pruned, plain = study_report(url, study_id).trials
    assert pruned.status == "skipped", pruned.note
    assert "prune.heads cannot apply to a BiLSTM student" in pruned.note
    assert plain.status == "finished" and plain.figures["parameters"] < 600_000

    search = StudySpec.from_dict({"kind": "search", "recipe": template.to_dict(), "budget": {"trials": 2},
                                  "search": {"params": [{"step": 2, "setting": "architecture",
                                                         "choices": ["transformer", "bilstm"]}],
                                             "optional": [3]}})
    study_id = create_study(search, url)
    assert runner(url, study_id, tmp_path, tiny_task).run().status == "finished"
    trials = study_report(url, study_id).trials
    assert all(t.status in ("finished", "skipped") for t in trials)
    for t in trials:
        if t.status == "skipped":  # a BiLSTM with the heads step kept: refused before the run, with the reason
            assert t.params["2.distill.student_init.architecture"] == "bilstm" and "BiLSTM student" in t.note
