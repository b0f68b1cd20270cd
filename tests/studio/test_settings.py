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


def test_a_location_chosen_in_the_studio_beats_bert_studio_db_and_use_default_goes_back(tmp_path, monkeypatch):
    from studio.settings import StudioSettings

    env_url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("BERT_STUDIO_DB", env_url)
    settings = StudioSettings(str(tmp_path / "studio.ini"))
    assert settings.database_choice() == (env_url, "environment")  # no choice made: the variable is the default
    chosen = f"sqlite:///{tmp_path / 'chosen.db'}"
    settings.set_database_url(chosen)
    settings.sync()
    assert StudioSettings(str(tmp_path / "studio.ini")).database_choice() == (chosen, "chosen")  # the next start
    settings.clear_database_url()
    assert settings.database_choice() == (env_url, "environment")
    monkeypatch.delenv("BERT_STUDIO_DB")
    url, origin = settings.database_choice()
    assert origin == "default" and url.endswith("studio.db") and url != env_url


def test_the_chosen_database_opens_on_the_next_start_and_the_status_bar_says_why(qtbot, window, tmp_path, db_url):
    from studio.main_window import MainWindow

    assert window.database_origin() == "environment"
    assert "studio-test.db" in window.database_label.text()
    assert "BERT_STUDIO_DB" in window.database_label.toolTip()
    new_url = check_database(str(tmp_path / "elsewhere.db"))
    assert window.choose_database(new_url)
    assert window.database_label.text() == "Runs: elsewhere.db"
    assert "chosen in File" in window.database_label.toolTip() and "chosen in File" in window.database_note()
    again = MainWindow(settings=window.settings)  # no store given: the window opens what the settings say
    qtbot.addWidget(again)
    assert again.store_url() == new_url, "BERT_STUDIO_DB is still set, but the choice in the studio wins"
    assert again.database_origin() == "chosen"
    assert again.use_default_database()
    assert again.store_url() == db_url and again.database_origin() == "environment"
    assert window.settings.qs.value("database/url", "") in ("", None)
    assert "studio-test.db" in again.database_label.text()
    again.controller.shutdown()
    again.store.close()


def test_the_dialog_explains_the_precedence_and_offers_the_default(qtbot, tmp_path):
    dialog = DatabaseDialog("sqlite:///x/chosen.db", origin="chosen", default_url="sqlite:///x/from-env.db")
    qtbot.addWidget(dialog)
    text = dialog.explain.text()
    assert "remembered" in text and "BERT_STUDIO_DB" in text and "sqlite:///x/from-env.db" in text
    assert "chosen in File" in text  # why the current one is in use
    assert dialog.default_button.isEnabled()
    dialog.default_button.click()
    assert dialog.use_default and dialog.url is None and dialog.result() == DatabaseDialog.DialogCode.Accepted
    from_env = DatabaseDialog("sqlite:///x/from-env.db", origin="environment")
    qtbot.addWidget(from_env)
    assert not from_env.default_button.isEnabled()  # already on the default
