"""Long jobs in the saved-runs views, second look (#23 1.9): "Measure side by side" counts its rounds and stops;
an export shows its steps and stops, and its report says what agreement counted for the task."""

from __future__ import annotations

import threading
import time

import pytest

from core.services.side_by_side import SideBySide
from studio.widgets.side_by_side import STOPPED, SideBySidePanel
from tests.core.test_bench_cmd import encoder_cost_timer, recorded_runs


def test_side_by_side_reports_progress_once_per_round(tmp_path, monkeypatch):
    from core.db import Repository, open_database
    from core.services.side_by_side import measure_runs

    url = f"sqlite:///{tmp_path / 'studio.db'}"
    ids = recorded_runs(tmp_path, url)
    encoder_cost_timer(monkeypatch, noise=0.0)
    seen = []
    with open_database(url) as db:
        measure_runs(Repository(db), ids, profiles=["throughput-fixed"], rounds=4,
                     progress=lambda done, total, message: seen.append((done, total, message)))
    rounds = [m for _, _, m in seen if "round" in m]
    assert rounds == [f"timing throughput-fixed (2 run(s) and the baseline): round {n} of 4" for n in (1, 2, 3, 4)]
    counts = [done for done, total, _ in seen if total == seen[-1][1]]
    assert counts == sorted(counts) and len(set(counts)) >= 6  # the counter moves with every load and round
    assert seen[-1][0] == seen[-1][1]  # and ends full


class _SlowMeasure:
    """A measurement of many rounds that checks between them, as measure_records does."""

    def __init__(self):
        self.finished = threading.Event()
        self.stopped_at = None

    def __call__(self, records, *, rounds, check, progress):
        try:
            for n in range(1000):
                check()
                progress(n, 1000, f"timing: round {n + 1} of 1000")
                time.sleep(0.01)
            return SideBySide([])
        except BaseException:
            self.stopped_at = n
            raise
        finally:
            self.finished.set()


def test_measure_side_by_side_shows_its_rounds_and_stops(qtbot):
    slow = _SlowMeasure()
    panel = SideBySidePanel(measure=slow)
    qtbot.addWidget(panel)
    panel.show()
    panel.set_records([object()])
    assert not panel.stop_button.isVisible()
    qtbot.mouseClick(panel.button, qtbot_left())
    assert panel.stop_button.isVisible() and not panel.button.isEnabled()
    qtbot.waitUntil(lambda: panel.bar.value() >= 3, timeout=5000)
    assert panel.bar.maximum() == 1000 and "round" in panel.status.text()
    qtbot.mouseClick(panel.stop_button, qtbot_left())
    assert panel.status.text() == STOPPED and panel.button.isEnabled() and not panel.stop_button.isVisible()
    panel.call.thread.join(5)
    assert slow.finished.is_set()
    assert slow.stopped_at is not None and slow.stopped_at < 999  # the job itself stopped, not only the view
    qtbot.wait(50)  # its (dropped) end reaches the GUI thread before the panel goes


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


@pytest.fixture
def exported_run(tmp_path, db_url):
    """One finished tiny run with a final checkpoint, in the database at ``db_url``."""
    return recorded_runs(tmp_path, db_url)[0]


def test_an_export_can_be_stopped_and_leaves_nothing_behind(qtbot, tmp_path, db_url, exported_run, monkeypatch):
    from core.db import Repository, open_database
    from studio.dialogs import export_dialog

    gate = threading.Event()
    real = export_dialog._ExportJob._tell

    def held(job, step, total, message):  # the export waits after its first step until the test pressed Stop
        real(job, step, total, message)
        if step == 1:
            gate.wait(10)

    monkeypatch.setattr(export_dialog._ExportJob, "_tell", held)
    with open_database(db_url) as db:
        dialog = export_dialog.ExportDialog(Repository(db), exported_run, "heads-ffn")
        qtbot.addWidget(dialog)
        target = tmp_path / "out"
        dialog.folder.setText(str(target))
        assert not dialog.stop_button.isEnabled()
        assert dialog.start()
        qtbot.waitUntil(lambda: dialog.progress.value() >= 1 or bool(dialog.error.text()), timeout=180000)
        assert not dialog.error.text()
        qtbot.mouseClick(dialog.stop_button, qtbot_left())
        assert "Stopping" in dialog.status.text()
        gate.set()
        qtbot.waitUntil(lambda: not dialog.busy, timeout=60000)
        assert "stopped" in dialog.status.text().lower() and not dialog.error.isVisible()
        assert not target.exists() and not any(p.name.startswith(".") for p in tmp_path.iterdir()
                                               if "out" in p.name)
        assert dialog.export_button.isEnabled() and not dialog.stop_button.isEnabled()


def test_export_report_names_what_agreement_counted():
    from core.export.verify import ExportReport, agreement_measure
    from core.models.heads import TOKEN
    from studio.dialogs.export_dialog import report_html

    report = ExportReport(format="onnx-int8", path="/x", verified=True, tolerance="t", max_abs_diff=0.1,
                          argmax_agreement=0.95, rows=32, size_bytes=1, weights_bytes=1,
                          agreement_measure=agreement_measure(TOKEN))
    text = report_html(report)
    assert "same predicted class" not in text.lower()
    assert "predicted tag agrees" in text.lower() and "non-padding tokens" in text and "95.0 %" in text


def test_default_export_folder_name_has_no_arrows_or_percent_signs(qtbot, db_url):
    from studio.dialogs.export_dialog import ExportDialog

    dialog = ExportDialog(None, "abcdef0123456789", "fine-tune \u2192 heads 50 % \u2192 int8")
    qtbot.addWidget(dialog)
    name = dialog.folder.text().rsplit("/", 1)[-1]
    assert name == "fine-tune-heads-50-int8-abcdef01"
