"""In a narrow window the saved runs keep their names readable: the name column keeps a useful width and the
table scrolls sideways, instead of the stretch squeezing names to about 30 px (seen at 1280 px with the Run dock
shown); on a wide window the name still takes the spare width."""

from __future__ import annotations

from studio.widgets.runs_list import COLUMNS, NAME_MIN_WIDTH, RunsList
from tests.studio.test_polish_runs_list import _Store


def test_the_name_keeps_its_width_in_a_narrow_window_and_stretches_in_a_wide_one(qtbot):
    runs = RunsList(_Store())
    qtbot.addWidget(runs)
    name = COLUMNS.index("Name")
    runs.resize(640, 300)
    runs.show()
    qtbot.waitExposed(runs)
    qtbot.waitUntil(lambda: runs.table.columnWidth(name) >= NAME_MIN_WIDTH, timeout=3000)
    assert runs.table.horizontalScrollBar().maximum() > 0  # the other columns are reached by scrolling
    runs.resize(1400, 300)
    widths = lambda: [runs.table.columnWidth(c) for c in range(len(COLUMNS))]  # noqa: E731
    qtbot.waitUntil(lambda: widths()[name] == max(widths()) and widths()[name] > NAME_MIN_WIDTH, timeout=3000)
