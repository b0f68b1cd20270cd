"""Recent data sources are remembered; the runs database can move, checked first, losing nothing."""

from __future__ import annotations

from core.db import Repository, open_database
from studio.dialogs.database_dialog import DatabaseDialog, check_database
from tests.studio.conftest import quick_recipe, record_run


def test_a_data_file_read_once_is_offered_again_in_a_new_window(qtbot, window, tmp_path):
    from studio.main_window import MainWindow

    good = tmp_path / "reviews.csv"
    good.write_text("sentence,label\ngood film,1\nbad film,0\n")
    with qtbot.waitSignal(window.data_panel.dataAccepted, timeout=10_000):
        window.data_panel.choose_data_file(str(good))
    assert window.settings.recent("data") == [str(good)]
    again = MainWindow(settings=window.settings, store=window.store)
    qtbot.addWidget(again)
    box = again.data_panel.data_box
    assert box.findData(str(good)) >= 0
    assert box.currentData() == "default"  # offered, not chosen
    again.controller.shutdown()


def test_a_file_that_is_not_a_database_is_refused_and_changes_nothing(qtbot, window, tmp_path, db_url):
    kept = record_run(db_url, quick_recipe(), {"accuracy": 0.7})
    window.runs.refresh()
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"these are my notes, not a database" * 20)
    before = bogus.read_bytes()
    dialog = DatabaseDialog(window.store_url())
    qtbot.addWidget(dialog)
    dialog.edit.setText(str(bogus))
    assert not dialog.try_accept()
    assert not dialog.error.isHidden() and "notes.db" in dialog.error.text()
    assert bogus.read_bytes() == before
    dialog.edit.setText(str(tmp_path / "missing-folder" / "runs.db"))
    assert not dialog.try_accept() and "does not exist" in dialog.error.text()
    assert window.settings.qs.value("database/url", "") in ("", None)
    assert window.runs.run_ids() == [kept]


def test_moving_the_database_records_there_and_leaves_the_old_one_whole(qtbot, window, tmp_path, db_url):
    old_run = record_run(db_url, quick_recipe(), {"accuracy": 0.7})
    new_url = check_database(str(tmp_path / "elsewhere.db"))
    assert new_url.startswith("sqlite:///") and (tmp_path / "elsewhere.db").is_file()
    assert window.choose_database(new_url)
    assert window.settings.qs.value("database/url") == new_url
    assert window.runs.run_ids() == []  # the new database is empty
    assert window.controller.recorder.db.url.endswith("elsewhere.db")
    with open_database(db_url) as db:
        assert [r.id for r in Repository(db).list_runs()] == [old_run]  # nothing lost
    # The recorder follows: a run recorded from the window's engine lands in the new file.
    from core import events as ev

    bus = window.controller.engine.bus
    bus.publish(ev.RunStarted("r-new", recipe=quick_recipe().to_dict(), device="cpu", step_titles=("x",)))
    bus.publish(ev.RunFinished("r-new", results={"accuracy": 0.5}))
    window.controller.recorder.flush()
    with open_database(new_url) as db:
        assert [r.id for r in Repository(db).list_runs()] == ["r-new"]
