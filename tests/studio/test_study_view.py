"""The Study view (issue 16, part 4): an order study set up, started, watched and stopped from the studio."""

from __future__ import annotations

import pytest

from core.recipe import Step
from core.registry import get_method
from tests.conftest import tiny_recipe
from tests.studio.conftest import record_run, shown

STUDY_TIMEOUT_MS = 240_000  # four tiny trials; the shared 2-core machine can be slow


def order_template(max_steps: int = 1):
    """A fine-tuned tiny teacher, then two methods to permute (steps 2 and 3)."""
    recipe = tiny_recipe(Step("finetune", {"max_steps": max_steps, "batch_size": 16}),
                         Step("prune.magnitude", {"sparsity": 0.5}), Step("prune.heads", {}))
    recipe.evaluation.latency_repeats = 1
    return recipe


@pytest.fixture
def view(qtbot, tmp_path, db_url, dialogs):
    from studio.study.study_view import StudyView

    v = StudyView(db_url, workdir_root=tmp_path / "runs")
    shown(qtbot, v, 1280, 760)
    yield v
    v.shutdown(60)


def set_up_order(view, recipe, steps=(2, 3)):
    view.set_template(recipe)
    view.setup.set_kind("order")
    view.setup.check_steps(view.setup.order_steps, list(steps))


def test_order_study_from_the_view_fills_trials_and_interaction(qtbot, view, db_url):
    set_up_order(view, order_template())
    assert view.setup.current_problems == []
    assert view.start_button.isEnabled()
    with qtbot.waitSignal(view.session.ended, timeout=STUDY_TIMEOUT_MS):
        view.start_button.click()
        assert view.stop_button.isEnabled() and not view.start_button.isEnabled()
    qtbot.waitUntil(lambda: view.report is not None and view.report.study.status == "finished", timeout=5000)
    table = view.trials
    assert table.rowCount() == 4  # each step alone, then both orders
    statuses = [table.item(r, 2).text() for r in range(4)]
    assert statuses == ["finished"] * 4, [t.note for t in view.report.trials]
    labels = [table.item(r, 1).text() for r in range(4)]
    a, b = (get_method(name).title for name in ("prune.magnitude", "prune.heads"))
    assert labels[2] == f"{a} -> {b}" and labels[3] == f"{b} -> {a}"
    assert all(table.item(r, 5).text() not in ("-", "") for r in range(4))  # every trial has a speedup

    rows = view.interaction.rows_text()
    assert rows[0] == f"A = {a},  B = {b}"
    for expected in ("A alone", "B alone", "A \u2192 B", "B \u2192 A", "No interaction predicts"):
        assert expected in rows, rows
    verdicts = view.interaction.verdicts()
    assert verdicts and set(verdicts) <= {"inside the noise", "measurable", "spread unknown"}
    # The prediction multiplies the two single runs' speedups (core.study.interaction does the arithmetic).
    pair = view.report.interaction[0]
    predicted = view.interaction.item(rows.index("No interaction predicts"), 1).text()
    assert predicted == f"{pair.alone_a.speedup.value * pair.alone_b.speedup.value:.2f}x"

    assert len(view.pareto.points) == 4  # every finished trial is a dot
    assert view.report.best is not None and "Best so far" in view.best.text()
    assert not view.resume_button.isEnabled()  # nothing to resume: it finished

    # A trial opens as its run: the run id the view hands out is a recorded run.
    from core.db import Repository, open_database

    table.selectRow(2)
    assert view.open_run.isEnabled()
    with qtbot.waitSignal(view.openRunRequested) as opened:
        view.open_run.click()
    with open_database(db_url) as db:
        run = Repository(db).get_run(opened.args[0])
    assert run.status == "finished" and len(run.recipe["steps"]) == 3


def test_bad_formula_names_the_unknown_name_inline(qtbot, view):
    set_up_order(view, order_template())
    view.setup.set_score("formula", "speedup * acuracy_retained")
    error = view.setup.score_error
    assert error.isVisible()
    assert "'acuracy_retained'" in error.text() and "did you mean 'accuracy_retained'" in error.text()
    assert not view.start_button.isEnabled()
    assert view.start() is False and view.session.study_id is None
    view.setup.formula.setText("speedup *")
    assert "syntax error" in error.text()
    view.setup.formula.setText("speedup * accuracy_retained ** 4")
    assert not error.isVisible()
    assert view.start_button.isEnabled()


def test_problems_name_the_field(qtbot, view):
    set_up_order(view, order_template(), steps=(2,))
    assert any(p.startswith("order.steps") for p in view.setup.current_problems)
    assert view.setup.problems.isVisible() and not view.start_button.isEnabled()


def test_stop_cancels_the_running_trial_and_resume_reruns_it(qtbot, view):
    set_up_order(view, order_template(max_steps=400))  # long enough to be stopped in its first trial
    with qtbot.waitSignal(view.session.trialStarted, timeout=60_000) as started:
        assert view.start()
    first = started.args[0].number
    # Live: the running trial's own run events say which step it is in (its stack: fine-tune, then A alone).
    qtbot.waitUntil(lambda: f"trial {first + 1}" in view.now.text() and "step 1/2" in view.now.text(), timeout=60_000)
    with qtbot.waitSignal(view.session.ended, timeout=90_000):
        view.stop_button.click()
    qtbot.waitUntil(lambda: view.report is not None and view.report.study.status == "cancelled", timeout=5000)
    assert view.trials.status_of(first) == "cancelled"
    assert not view.stop_button.isEnabled() and view.resume_button.isEnabled()
    assert not view.now.isVisible()

    with qtbot.waitSignal(view.session.trialStarted, timeout=60_000) as again:
        assert view.resume()
    assert again.args[0].number == first  # the cancelled trial runs again first
    with qtbot.waitSignal(view.session.ended, timeout=90_000):
        view.stop()
    assert not view.running


def test_study_action_opens_the_tab_from_the_stack_and_trials_open_in_browser(qtbot, window, db_url):
    window.study_action.trigger()
    view = window.study_view
    assert window.main_tabs.currentWidget() is view
    assert [s.method for s in view.setup.recipe.steps] == [s.method for s in window.recipe().steps]
    from PySide6.QtWidgets import QDockWidget

    docks = window.findChildren(QDockWidget)
    assert not any(d.isVisible() for d in docks)  # the study takes the whole window
    window.main_tabs.setCurrentIndex(0)
    assert all(d.isVisible() for d in docks)  # and the recipe page gets its docks back
    window.study_action.trigger()

    run_id = record_run(db_url, order_template(), {"accuracy": 0.8, "speedup": 1.2})
    view.openRunRequested.emit(run_id)
    assert window.main_tabs.currentWidget() is window.browser
    assert window.runs.selected_run_ids() == [run_id]
    view.openRecipeRequested.emit(run_id)
    assert [s.method for s in window.stack.steps()] == ["finetune", "prune.magnitude", "prune.heads"]


def test_search_and_grid_are_set_up_from_the_form(qtbot, view):
    view.set_template(order_template())
    view.setup.set_kind("search")
    assert any(p.startswith("search") for p in view.setup.current_problems)  # nothing varies yet
    view.setup.add_range(step=2, setting="sparsity", low=0.3, high=0.6)
    view.setup.check_steps(view.setup.optional, [3])
    view.setup.trials.setValue(2)
    assert view.setup.current_problems == []
    spec = view.setup.spec()
    assert spec.kind == "search" and spec.max_trials == 2 and spec.optional == (3,)
    assert [(p.step, p.setting, p.low, p.high) for p in spec.params] == [(2, "sparsity", 0.3, 0.6)]
    view.setup.ranges.item(0, 3).setText("1.5")  # sparsity above 1 is refused by the method's own range
    assert any("search.params[1]" in p for p in view.setup.current_problems)

    view.setup.set_kind("grid")
    view.setup.add_variant("light", "2.sparsity=0.3")
    view.setup.add_variant("no heads", "", "3")
    assert view.setup.current_problems == []
    assert [v["name"] for v in view.setup.spec().variants] == ["light", "no heads"]


def test_two_workers_share_a_search(qtbot, view, caplog):
    view.set_template(order_template())
    view.setup.set_kind("search")
    view.setup.add_range(step=2, setting="sparsity", low=0.3, high=0.6)
    view.setup.trials.setValue(3)
    view.setup.workers.setValue(2)
    with qtbot.waitSignal(view.session.ended, timeout=STUDY_TIMEOUT_MS):
        assert view.start()
    qtbot.waitUntil(lambda: view.report is not None and view.report.study.status == "finished", timeout=5000)
    report = view.report
    assert sorted(t.number for t in report.trials) == [0, 1, 2]  # each slot once, across both workers
    assert "already in the database" not in caplog.text  # each worker records only its own runs
    assert view.trials.rowCount() == 3
    assert not view.tabs.isTabEnabled(view.tabs.indexOf(view.interaction))  # no interaction table for a search
    # A worker out of slots waits for the other's claimed, not yet recorded, last slot (core.study.runner's
    # _others_running); were that race back, the trial would end cancelled here.
    statuses = [t.status for t in report.trials]
    assert statuses == ["finished"] * 3, [(t.status, t.note) for t in report.trials]
    assert len(view.pareto.points) == 3


def test_a_database_that_cannot_be_written_is_said_in_a_dialog(qtbot, tmp_path, dialogs):
    from studio.study.study_view import StudyView

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    view = shown(qtbot, StudyView(f"sqlite:///{blocker}/studies.db", workdir_root=tmp_path), 900, 600)
    set_up_order(view, order_template())
    assert view.start() is False
    assert [title for title, _, _ in dialogs.errors] == ["The study cannot start"]
    assert not view.running and view.start_button.isEnabled()


def test_a_recorded_study_can_be_picked_and_resumed_later(qtbot, tmp_path, db_url, dialogs):
    from core.study.runner import create_study, stop_study
    from core.study.spec import StudySpec
    from studio.study.study_view import StudyView

    spec = StudySpec.from_dict({"kind": "order", "name": "stopped last week", "recipe": order_template().to_dict(),
                                "order": {"steps": [2, 3]}})
    study_id = create_study(spec, db_url)
    stop_study(db_url, study_id)
    view = shown(qtbot, StudyView(db_url, workdir_root=tmp_path), 1100, 700)  # a fresh studio
    index = view.saved.findData(study_id)
    assert index > 0 and "stopped last week" in view.saved.itemText(index) and "cancelled" in view.saved.itemText(index)
    assert not view.resume_button.isEnabled()
    view.saved.setCurrentIndex(index)
    view.saved.activated.emit(index)
    assert view.report is not None and view.report.study.id == study_id
    assert "stopped last week" in view.status.text() and "cancelled" in view.status.text()
    assert view.resume_button.isEnabled()
