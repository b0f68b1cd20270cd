"""Issue 13, item 5: figures labelled, grouped and explained from core.metrics.figures; a help page."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt

from core.metrics import figures as fig
from studio.widgets.run_details import RunDetails
from tests.studio.conftest import shown

RESULTS = {
    "size_bytes": 57.15e6, "accuracy": 0.81, "accuracy_retained": 1.0517, "accuracy_retained_low": 1.01,
    "accuracy_retained_high": 1.09, "nonzero_parameters": 11_000_000, "parameters": 22_000_000,
    "baseline_parameters": 22_000_000, "parameter_ratio": 1.0, "latency_ms": 12.5, "baseline_latency_ms": 25.0,
    "speedup": 2.0, "speedup_low": 1.9, "speedup_high": 2.1, "something_new": 3,
    "timing": {"throughput-fixed": {"protocol": {"profile": "throughput-fixed", "batch_size": 32, "lengths": "fixed", "max_length": 64,
                                                 "threads": 2, "device": "cpu", "rounds": 15, "warmup": 3}}},
}


def _record(results):
    """As the database gives a run back: numbers in ``results``, everything (the timing protocol too) in ``figures``."""
    numbers = {k: v for k, v in results.items() if isinstance(v, (int, float))}
    return SimpleNamespace(id="0123456789", name="run", status="finished", model_source="default", device="cpu",
                           started_at=None, duration=None, error="", results=numbers, figures=results, artifacts=[],
                           recipe={"steps": []})


def _rows(details):
    t = details.results
    return [(t.item(r, 0).text(), t.item(r, 1).text() if t.item(r, 1) else None, t.item(r, 0).toolTip())
            for r in range(t.rowCount())]


def test_run_details_group_label_and_explain_every_figure(qtbot):
    details = shown(qtbot, RunDetails(), 900, 600)
    details.show_run(_record(RESULTS), {})
    rows = _rows(details)
    groups = [label for label, value, _ in rows if value is None]
    assert groups == ["Accuracy", "Size", "Speed", "Other"]  # grouped in that order, not alphabetical
    shown_values = {label: value for label, value, _ in rows if value is not None}
    assert "accuracy_retained" not in shown_values and "nonzero_parameters" not in shown_values
    assert shown_values["Accuracy retained"] == "105.17 % (101.00\u2013109.00)"
    assert shown_values["Parameters vs baseline"] == "same parameters"  # not "1.00x fewer parameters"
    assert shown_values["Speedup"] == "2.00x faster (1.90\u20132.10)"
    assert shown_values["Size"] == "57.15 MB"
    assert shown_values["something_new"] == "3"
    # latency comes with how it was timed: batch and threads
    timed = next(v for k, v in shown_values.items() if k.startswith("Timed"))
    assert "batch 32" in timed and "2 threads" in timed
    tips = {label: tip for label, value, tip in rows if value is not None}
    for f in fig.FIGURES:
        if f.label in tips:
            assert f.help in tips[f.label] and f.key in tips[f.label]
    item = next(details.results.item(r, 0) for r in range(details.results.rowCount())
                if details.results.item(r, 0).text() == "Latency")
    assert item.data(Qt.ItemDataRole.UserRole) == "latency_ms"


def test_runs_table_headers_explain_their_figures(qtbot, window):
    from studio.widgets.runs_list import COLUMNS, FIGURE_KEYS

    table = window.runs.table
    for column, key in FIGURE_KEYS.items():
        assert fig.spec(key).help in table.horizontalHeaderItem(COLUMNS.index(column)).toolTip()


def test_end_of_run_line_reads_in_words(qtbot, window):
    from core import events as ev

    window._run_finished(ev.RunFinished("r", results={"accuracy": 0.8, "speedup": 1.5, "parameter_ratio": 1.0}))
    text = window.dashboard.status.text()
    assert "same parameters" in text and "1.50x faster" in text and "fewer" not in text


def test_help_page_lists_every_figure_and_method(qtbot, window):
    from core.registry import all_methods

    window.help_action.trigger()
    page = window.help_dialog
    qtbot.waitExposed(page)
    text = page.browser.toPlainText()
    for f in fig.FIGURES:
        assert f.label in text and f.help[:40] in text
    for spec in all_methods():
        assert spec.title in text and spec.name in text
    assert text.index("Accuracy retained") < text.index("Parameters vs baseline") < text.index("Speedup")
