"""Exporting a saved run from the browser: progress, verification report, no silent overwrite, clear errors."""

from __future__ import annotations

from core.db import Repository, open_database
from tests.studio.conftest import quick_recipe, record_run

RUN_TIMEOUT_MS = 60_000


def test_export_a_tiny_run_reports_verification_and_never_overwrites_silently(qtbot, window, dialogs, db_url, tmp_path):
    recipe = quick_recipe(max_steps=2)
    recipe.name = "to-export"
    window.set_recipe(recipe)
    with qtbot.waitSignal(window.controller.bridge.runFinished, timeout=RUN_TIMEOUT_MS) as finished:
        window.start_run()
    run_id = finished.args[0].run_id
    qtbot.waitUntil(lambda: run_id in window.runs.run_ids(), timeout=5000)
    window.runs.select_runs([run_id])
    assert window.browser.export_button.isEnabled()
    window.browser.export_button.click()
    dialog = window.export_dialog
    qtbot.addWidget(dialog)
    out = tmp_path / "exported"
    dialog.folder.setText(str(out))
    dialog.set_format("hf")
    with qtbot.waitSignal(dialog.exportFinished, timeout=RUN_TIMEOUT_MS) as done:
        assert dialog.start()
        assert not dialog.export_button.isEnabled()
    report = done.args[0]
    assert report.verified and report.format == "hf"
    assert report.path == str(out.resolve())
    assert any(p.suffix == ".safetensors" for p in out.iterdir())
    assert dialog.progress.value() == dialog.progress.maximum() == 6
    text = dialog.report.text()
    assert "Max output difference" in text and "MB" in text and "Latency" in text
    assert f"{report.max_abs_diff:.3g}" in text
    with open_database(db_url) as db:
        assert [a.path for a in Repository(db).artifacts(run_id, "export")] == [str(out.resolve())]
    assert any("export" in window.browser.details.artifacts.item(i).text()
               for i in range(window.browser.details.artifacts.count()))

    # The folder now exists: exporting again asks first, and "No" leaves it untouched.
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    dialogs.answer = False
    assert not dialog.start()
    assert dialogs.questions and "already exists" in dialogs.questions[-1]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert "left as it is" in dialog.status.text()


def test_export_of_a_run_without_a_checkpoint_shows_a_clear_error(qtbot, window, db_url, tmp_path):
    run_id = record_run(db_url, quick_recipe(), {"accuracy": 0.6})
    window.runs.refresh()
    dialog = window.export_run(run_id)
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(tmp_path / "nowhere"))
    with qtbot.waitSignal(dialog.exportFailed, timeout=20_000):
        dialog.start()
    assert not dialog.error.isHidden()
    assert "no final checkpoint" in dialog.error.text()
    assert not (tmp_path / "nowhere").exists()
    assert dialog.export_button.isEnabled()
