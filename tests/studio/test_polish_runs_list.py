"""The saved-runs table gives its spare width to the run's name, not to a long model path."""

from __future__ import annotations

from datetime import datetime, timezone

from core.db.domain import RunSummary
from studio.runs_store import RunsStore
from studio.widgets.runs_list import COLUMNS, RunsList

LONG_MODEL = "/home/someone/models/checkpoints/all-MiniLM-L6-v2-finetuned-movie-reviews-2024-05-01"


class _Store(RunsStore):
    def list_runs(self) -> list[RunSummary]:
        started = datetime(2025, 1, 2, 10, tzinfo=timezone.utc)
        return [RunSummary("a" * 32, "baseline fp32", "finished", started, None, LONG_MODEL, "default", "cpu", None,
                           {"accuracy": 0.8, "speedup": 1.0}, stack="fine-tune"),
                RunSummary("b" * 32, "heads 50 % + int8", "finished", started, None, "default", "default", "cpu", None,
                           {"accuracy": 0.78, "speedup": 2.1, "size_bytes": 23e6},
                           stack="fine-tune \u2192 heads 50 % \u2192 int8")]


def test_name_takes_the_spare_width_and_the_model_path_is_capped_with_a_tooltip(qtbot):
    runs = RunsList(_Store())
    qtbot.addWidget(runs)
    runs.resize(1300, 300)
    runs.show()
    qtbot.waitExposed(runs)
    table, header = runs.table, runs.table.horizontalHeader()
    name, model = COLUMNS.index("Name"), COLUMNS.index("Model")
    widths = [table.columnWidth(c) for c in range(len(COLUMNS))]
    assert sum(widths) >= table.viewport().width() - 2  # the columns fill the table
    assert widths[name] == max(widths), widths  # the name is the widest column: it gets what is left
    assert widths[name] > header.sectionSizeHint(name) + 100  # ... well beyond what its text needs
    assert widths[model] < table.fontMetrics().horizontalAdvance(LONG_MODEL)  # the long path does not take it
    row = runs.run_ids().index("a" * 32)
    assert table.item(row, model).toolTip() == LONG_MODEL  # elided in the cell, whole in the tooltip
    # The short columns fit their content (nothing there is cut).
    assert table.item(runs.run_ids().index("b" * 32), COLUMNS.index("Size")).text() == "23.0 MB"
    assert table.item(runs.run_ids().index("b" * 32), COLUMNS.index("Stack")).toolTip().endswith("int8")
    for column in ("Started", "Status", "Headline", "Speedup", "Size", "Run id"):
        c = COLUMNS.index(column)
        assert widths[c] >= max(table.sizeHintForColumn(c), header.sectionSizeHint(c)) - 1, column
