"""The comparison keeps its plots readable however many runs it compares, and its point labels inside the view."""

from __future__ import annotations

import pyqtgraph as pg

from studio.widgets.run_compare import PALETTE, RunComparison
from tests.studio.conftest import shown
from tests.studio.test_polish_compare import NO_BASELINE, _run, _series

# What the Saved runs tab leaves for a comparison in a window on a 1280 x 800 screen.
WIDTH, HEIGHT = 1000, 520


def _runs(count: int):
    # Long names (as runs named after their stack are) and the fastest, most accurate run at the right edge.
    return [_run(f"fine-tune \u2192 heads {10 * n} % \u2192 int8",
                 dict(NO_BASELINE, accuracy=0.80 + n / 100, speedup=1 + n / 3, speedup_low=0.9 + n / 3,
                      speedup_high=1.1 + n / 3, size_ratio=1 + n / 4)) for n in range(count)]


def _view_boxes(view: RunComparison):
    return {name: plot.getPlotItem().getViewBox() for name, plot in (*view.curves.items(), *view.scatters.items())}


def test_plots_keep_a_readable_height_with_many_runs_and_the_comparison_scrolls_instead(qtbot):
    view = shown(qtbot, RunComparison(), WIDTH, HEIGHT)
    runs = _runs(8)
    view.show_runs(runs, {r.id: _series(r.results["accuracy"]) for r in runs})

    def readable() -> None:  # retried until the layout has settled, the last failure reported
        for name, box in _view_boxes(view).items():
            assert box.sceneBoundingRect().height() >= 200, name
            assert not box.parentItem().legend or not box.parentItem().legend.isVisible(), name  # no rows eat it
        assert view.scroll.verticalScrollBar().maximum() > 0  # the rest is reached by scrolling

    qtbot.waitUntil(readable, timeout=2000)
    # One colour key names every run once, in its plot colour.
    key = view.key.text()
    for n, run in enumerate(runs):
        assert key.count(run.name) == 1 and PALETTE[n % len(PALETTE)] in key


def test_point_labels_stay_inside_the_view_at_any_width(qtbot):
    view = shown(qtbot, RunComparison(), WIDTH, HEIGHT)
    runs = _runs(6)
    view.show_runs(runs, {})
    for width in (WIDTH, 620):
        view.resize(width, HEIGHT)

        def inside() -> None:  # retried until the layout has settled, the last failure reported
            for axis, scatter in view.scatters.items():
                box = scatter.getPlotItem().getViewBox().sceneBoundingRect()
                labels = [item for item in scatter.getPlotItem().items if isinstance(item, pg.TextItem)]
                assert len(labels) == len(runs), axis
                for label in labels:
                    assert box.contains(label.sceneBoundingRect()), (axis, width, label.toPlainText())
                    assert label.toolTip().startswith("fine-tune")  # the whole name, even where it is elided

        qtbot.waitUntil(inside, timeout=2000)
        if width == WIDTH:  # the fastest run's dot sits at the right edge: its label turned to the left of it
            scatter = view.scatters["speedup"]
            label, x, y, _ = scatter.texts[-1]
            dot = scatter.getPlotItem().getViewBox().mapViewToScene(pg.Point(x, y))
            assert label.sceneBoundingRect().right() < dot.x()


def test_labels_of_tied_runs_do_not_print_over_each_other(qtbot):
    # Same accuracy and near-equal sizes are common (the tiny model, int8 of a small model): dots coincide.
    view = shown(qtbot, RunComparison(), WIDTH, HEIGHT)
    runs = [_run(f"tied-{n}", dict(NO_BASELINE, accuracy=0.64, speedup=1.0 + n / 1000, size_ratio=1.0))
            for n in range(4)]
    view.show_runs(runs, {})

    def apart() -> None:  # retried until the layout has settled, the last failure reported
        for axis, scatter in view.scatters.items():
            box = scatter.getPlotItem().getViewBox().sceneBoundingRect()
            rects = [label.sceneBoundingRect() for label, *_ in scatter.texts]
            assert len(rects) == 4 and all(box.contains(r) for r in rects), axis
            assert not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:]), axis

    qtbot.waitUntil(apart, timeout=2000)
