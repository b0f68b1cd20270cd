"""Saved runs, second look (#23): unreliable speedups, a score column, sorting and filters, Export only for a
finished run, and a run's files deleted with it when the user says so."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from core import events as ev
from core.db import Recorder, open_database
from core.scoring import parse_score
from studio.runs_store import DatabaseRunsStore
from studio.widgets.run_browser import RunBrowser
from studio.widgets.runs_list import COLUMNS, RunsList
from tests.studio.conftest import quick_recipe

FAST = {"accuracy": 0.80, "accuracy_retained": 0.99, "speedup": 3.0, "speedup_low": 2.9, "speedup_high": 3.1,
        "size_ratio": 2.0, "size_bytes": 8e6}
NOISY = {"accuracy": 0.81, "accuracy_retained": 1.0, "speedup": 2.0, "speedup_low": 1.2, "speedup_high": 3.0,
         "size_ratio": 1.0, "size_bytes": 16e6}
TINY = {"accuracy": 0.7, "accuracy_retained": 0.9, "speedup": float("nan"), "speed_note": "too small to time",
        "size_ratio": 4.0, "size_bytes": 4e6}


def record(url: str, name: str, results: dict | None, status: str = "finished", model: str | None = None,
           files: Path | None = None) -> str:
    """One run written through the real recorder; ``files``: a folder ``files/<id>/final`` recorded as its checkpoint."""
    run_id = uuid.uuid4().hex
    recipe = quick_recipe()
    recipe.name = name
    if model:
        recipe.model.source = model
    bus = ev.EventBus()
    with open_database(url) as db, Recorder(db, bus):
        bus.publish(ev.RunStarted(run_id, recipe=recipe.to_dict(), device="cpu", step_titles=("fine-tune",)))
        if files is not None:
            final = files / run_id / "final"
            final.mkdir(parents=True)
            (final / "model.safetensors").write_bytes(b"\0" * 200_000)
            bus.publish(ev.Checkpoint(run_id, index=0, path=str(final), kind="final"))
        if status == "finished":
            bus.publish(ev.RunFinished(run_id, results=results or {}))
        elif status == "cancelled":
            bus.publish(ev.RunCancelled(run_id))
        else:
            bus.publish(ev.RunFailed(run_id, error="boom"))
    return run_id


@pytest.fixture
def runs(qtbot, db_url):
    ids = {"fast": record(db_url, "fast", FAST), "noisy": record(db_url, "noisy", NOISY, model="zz-other-model"),
           "tiny": record(db_url, "tiny", TINY), "failed": record(db_url, "failed", None, status="failed")}
    store = DatabaseRunsStore(db_url)
    widget = RunsList(store)
    qtbot.addWidget(widget)
    yield widget, ids
    store.close()


def cell(widget: RunsList, run_id: str, column: str) -> str:
    return widget.table.item(widget.run_ids().index(run_id), COLUMNS.index(column)).text()


def test_speedups_are_flagged_unreliable_or_too_small_as_the_cli_does(runs):
    widget, ids = runs
    assert cell(widget, ids["fast"], "Speedup") == "3.00x"
    assert cell(widget, ids["noisy"], "Speedup") == "2.00x (unreliable)"
    assert cell(widget, ids["tiny"], "Speedup") == "too small to time"


def test_score_column_is_the_cli_score_and_the_view_chooses_it(qtbot, runs):
    widget, ids = runs
    geomean = parse_score("geomean")
    assert cell(widget, ids["fast"], "Score") == f"{geomean(FAST):.4g}"
    assert cell(widget, ids["failed"], "Score") == ""
    widget.filters.score_box.setCurrentText("speedup * accuracy_retained ** 4")
    qtbot.keyClick(widget.filters.score_box.lineEdit(), Qt.Key.Key_Return)
    assert cell(widget, ids["fast"], "Score") == f"{3.0 * 0.99 ** 4:.4g}"
    assert "speedup" in widget.table.horizontalHeaderItem(COLUMNS.index("Score")).toolTip()
    widget.filters.score_box.setCurrentText("speedup * nonsense")  # a bad formula keeps the last score and says why
    qtbot.keyClick(widget.filters.score_box.lineEdit(), Qt.Key.Key_Return)
    assert "nonsense" in widget.filters.score_error
    assert cell(widget, ids["fast"], "Score") == f"{3.0 * 0.99 ** 4:.4g}"


def test_clicking_a_header_sorts_best_first_then_reverses(qtbot, runs):
    widget, ids = runs
    header = widget.table.horizontalHeader()
    speedup = COLUMNS.index("Speedup")
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.rect().topLeft() + _section_centre(header, speedup))
    order = widget.run_ids()
    assert order[:2] == [ids["fast"], ids["noisy"]]  # highest speedup first, runs without one last
    assert set(order[2:]) == {ids["tiny"], ids["failed"]}
    assert widget.table.horizontalHeaderItem(speedup).text().startswith("Speedup \u25be")
    widget.sort_by(speedup)
    assert widget.run_ids().index(ids["noisy"]) < widget.run_ids().index(ids["fast"])
    widget.sort_by(COLUMNS.index("Model"))
    assert widget.run_ids()[-1] == ids["noisy"]  # "zz-other-model" after the default model's name, A to Z
    widget.refresh()  # a refresh keeps the chosen order
    assert widget.run_ids()[-1] == ids["noisy"]


def _section_centre(header, column: int):
    from PySide6.QtCore import QPoint

    return QPoint(header.sectionViewportPosition(column) + header.sectionSize(column) // 2, header.height() // 2)


def test_filters_narrow_the_rows_by_text_model_status_speedup_and_score(runs):
    widget, ids = runs
    assert widget.visible_run_ids() and len(widget.visible_run_ids()) == 4
    widget.filters.status.setCurrentText("failed")
    assert widget.visible_run_ids() == [ids["failed"]]
    widget.filters.status.setCurrentText("all")
    widget.filters.model.setCurrentText("zz-other-model")
    assert widget.visible_run_ids() == [ids["noisy"]]
    widget.filters.model.setCurrentText("all")
    widget.filters.min_speedup.setValue(2.5)
    assert widget.visible_run_ids() == [ids["fast"]]
    widget.filters.min_speedup.setValue(0)
    widget.filters.text.setText("NOIS")
    assert widget.visible_run_ids() == [ids["noisy"]]
    widget.filters.text.clear()
    widget.select_runs([ids["noisy"]])
    widget.filters.min_score.setText(f"{parse_score('geomean')(FAST) - 1e-6}")
    assert widget.visible_run_ids() == [ids["fast"]]
    assert widget.selected_run_ids() == []  # a row filtered out is no longer selected


def test_export_is_offered_only_for_a_finished_run(qtbot, db_url):
    ids = [record(db_url, "done", FAST), record(db_url, "stopped", None, status="cancelled"),
           record(db_url, "broken", None, status="failed")]
    store = DatabaseRunsStore(db_url)
    browser = RunBrowser(store)
    qtbot.addWidget(browser)
    browser.list.select_runs([ids[0]])
    assert browser.export_button.isEnabled()
    for run_id, status in ((ids[1], "cancelled"), (ids[2], "failed")):
        browser.list.select_runs([run_id])
        assert not browser.export_button.isEnabled()
        assert status in browser.export_button.toolTip()
        menu = browser.list.context_menu()
        assert not next(a for a in menu.actions() if a.text() == "Export\u2026").isEnabled()
    store.close()


@pytest.mark.parametrize("delete_files", [True, False])
def test_deleting_a_run_offers_to_delete_its_files(qtbot, db_url, tmp_path, monkeypatch, delete_files):
    from studio.dialogs import errors

    answers, questions = [True, delete_files], []

    def ask(parent, title, question):
        questions.append(question)
        return answers.pop(0)

    monkeypatch.setattr(errors, "ask_yes_no", ask)
    root = tmp_path / "runs"
    keep, gone = record(db_url, "keep", FAST, files=root), record(db_url, "gone", FAST, files=root)
    store = DatabaseRunsStore(db_url)
    widget = RunsList(store)
    qtbot.addWidget(widget)
    widget.select_runs([gone])
    widget.delete_selected()
    assert widget.run_ids() == [keep]
    assert "0.2 MB" in questions[1] and str(root / gone) in questions[1]
    assert (root / gone).exists() is not delete_files
    assert (root / keep / "final" / "model.safetensors").exists()  # another run's files are never touched
    assert ("freed" if delete_files else "stay") in widget.message.text()
    store.close()


def test_saved_runs_show_the_step_cache_size_and_cap_and_clear_it(qtbot, db_url, dialogs, monkeypatch):
    from core.engine.cache import CAP_ENV, cache_root_for

    monkeypatch.setenv(CAP_ENV, "2")
    record(db_url, "fast", FAST)
    entry = cache_root_for(db_url) / "0123abcd"
    entry.mkdir(parents=True)
    (entry / "model.safetensors").write_bytes(b"\0" * 300_000)
    store = DatabaseRunsStore(db_url)
    widget = RunsList(store)
    qtbot.addWidget(widget)
    widget.show()
    assert widget.cache_label.isVisible()
    assert widget.cache_label.text() == "Step cache: 0.3 MB of 2.1 GB"
    assert str(cache_root_for(db_url)) in widget.cache_label.toolTip()
    dialogs.answer = True
    qtbot.mouseClick(widget.clear_cache_button, Qt.MouseButton.LeftButton)
    assert "0.3 MB" in dialogs.questions[-1]
    assert not entry.exists() and widget.cache_label.text() == "Step cache: 0.0 MB of 2.1 GB"
    assert "0.3 MB freed" in widget.message.text() and not widget.clear_cache_button.isEnabled()
    assert widget.run_ids()  # the runs stay
    store.close()
