"""Stale text in and around the Study view (#23 1.10): the saved-studies list follows the study's trials and a
resume; the Run dock does not keep an earlier run's "Failed" while a study runs; an order that did not run says
why; the disabled Constraints box's placeholder stays grey."""

from __future__ import annotations

from types import SimpleNamespace

from core.db import open_database
from core.db.studies import StudyRepository
from core.study.spec import StudySpec
from core.study.studies import create_study, stop_study
from tests.studio.conftest import shown
from tests.studio.test_study_view import order_template


def _study(db_url: str) -> str:
    spec = StudySpec.from_dict({"kind": "order", "name": "orders", "recipe": order_template().to_dict(),
                                "order": {"steps": [2, 3]}})
    return create_study(spec, db_url)


def test_saved_studies_list_follows_finished_trials_and_a_resume(qtbot, tmp_path, db_url, dialogs, monkeypatch):
    from studio.study.study_view import StudyView

    study_id = _study(db_url)
    view = shown(qtbot, StudyView(db_url, workdir_root=tmp_path), 1100, 700)
    view.open_study(study_id)
    line = lambda: view.saved.itemText(view.saved.findData(study_id))  # noqa: E731
    assert "0/4 trials done" in line()
    with open_database(db_url) as db:  # a worker finishes one trial while the view follows the study
        repo = StudyRepository(db)
        repo.claim_slot(study_id)
        repo.add_trial(study_id, 0, label="A alone", params={"order": [2]})
        repo.end_trial(study_id, 0, "finished", value=1.0)
    view.refresh()  # what a trial's end triggers
    assert "1/4 trials done" in line() and "running" in line()

    stop_study(db_url, study_id)
    view.refresh()
    assert "cancelled" in line()

    def started(workers, resume=False):  # the workers' start, without processes: the study is open again
        with open_database(db_url) as db:
            StudyRepository(db).reopen(study_id)

    monkeypatch.setattr(view.session, "start", started)
    assert view.resume()
    assert "cancelled" not in line() and "running" in line()


def test_the_run_dock_says_a_study_is_running_not_the_last_runs_failure(qtbot, window):
    from studio.study.study_view import study_dock_text

    window.dashboard.status.setText("Failed")
    view = window.open_study()
    view.runningChanged.emit(True)
    assert window.dashboard.status.text() == study_dock_text(True)
    view.runningChanged.emit(False)
    assert "Failed" not in window.dashboard.status.text()


def test_an_order_that_did_not_run_says_why(qtbot):
    from core.study.interaction import PairTable, RunFigures
    from studio.study.interaction_table import InteractionTable, order_reasons

    steps = [SimpleNamespace(title=lambda t=t: t) for t in ("Fine-tune", "Prune A", "Prune B")]
    figures = RunFigures.from_figures({"speedup": 1.5, "size_ratio": 1.2, "baseline_accuracy": 0.8,
                                       "accuracy": 0.79})
    trials = [SimpleNamespace(params={"order": [2]}, status="finished", note=None, figures={"speedup": 1.5}),
              SimpleNamespace(params={"order": [3]}, status="finished", note=None, figures={"speedup": 1.5}),
              SimpleNamespace(params={"order": [2, 3]}, status="finished", note=None, figures={"speedup": 2.0}),
              SimpleNamespace(params={"order": [3, 2]}, status="skipped", figures=None,
                              note="refused: Prune B cannot follow Prune A on a pruned model")]
    report = SimpleNamespace(spec=SimpleNamespace(recipe=SimpleNamespace(steps=steps), order_steps=(2, 3)),
                             trials=trials)
    reasons = order_reasons(report)
    assert reasons == {("Prune B", "Prune A"): "refused: Prune B cannot follow Prune A on a pruned model"}
    table = InteractionTable()
    qtbot.addWidget(table)
    table.show_pairs([PairTable("Prune A", "Prune B", figures, figures, figures, None)], reasons)
    row = table.rows_text().index("B \u2192 A")
    assert table.item(row, 1).text() == "did not run: refused: Prune B cannot follow Prune A on a pruned model"
    table.show_pairs([PairTable("Prune A", "Prune B", figures, figures, figures, None)])
    assert table.item(row, 1).text().startswith("did not run: ")  # never a bare "did not run"


def test_the_disabled_constraints_placeholder_stays_light_grey(qtbot):
    from studio.study.score_box import ScoreBox

    box = shown(qtbot, ScoreBox(), 500, 400)
    box.setEnabled(False)
    qtbot.wait(20)
    image = box.constraints.viewport().grab().toImage()
    darkest = min(image.pixelColor(x, y).lightness() for x in range(0, image.width(), 1)
                  for y in range(0, image.height(), 1))
    assert darkest > 150, darkest  # placeholder text drawn, but nowhere near the dark of typed text
    box.constraints.setPlainText("speedup >= 1.5")  # typed text is dark, as a check of the measure itself
    box.setEnabled(True)
    qtbot.wait(20)
    image = box.constraints.viewport().grab().toImage()
    assert min(image.pixelColor(x, y).lightness() for x in range(image.width()) for y in range(image.height())) < 100
