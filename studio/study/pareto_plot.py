"""The study's trials on its two Pareto axes (accuracy retained against speedup by default), filling in live.

As the live plots do, the items are created once and fed with ``setData``: every finished trial a grey
dot, the front's trials joined by a dashed line and drawn in colour, the best trial by the score a star.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from core.metrics.figures import label as figure_label
from studio.widgets.live_plots import PlotHint

EMPTY = "The trials appear here as they finish:\nthe Pareto front in colour, the best run by the score as a star."


def _value(trial, key: str) -> float:
    v = trial.figures.get(key)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) else math.nan


class ParetoPlot(pg.PlotWidget):
    def __init__(self, parent=None):
        super().__init__(parent, background="w")
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        for side in ("left", "bottom"):
            item.getAxis(side).enableAutoSIPrefix(False)
        self.others = pg.ScatterPlotItem(size=9, brush=pg.mkBrush("#9ca3af"), pen=pg.mkPen("#6b7280"))
        self.front_line = pg.PlotDataItem(pen=pg.mkPen("#2563eb", width=1.5, style=Qt.PenStyle.DashLine))
        self.front_dots = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#2563eb"), pen=pg.mkPen("k"))
        self.best = pg.ScatterPlotItem(size=20, symbol="star", brush=pg.mkBrush("#f59e0b"), pen=pg.mkPen("k"))
        for part in (self.others, self.front_line, self.front_dots, self.best):
            item.addItem(part)
        self.legend = item.addLegend(offset=(-10, -10))
        self.legend.addItem(self.others, "trial")
        self.legend.addItem(self.front_dots, "Pareto front")
        self.legend.addItem(self.best, "best by the score")
        self.labels: list[pg.TextItem] = []
        self.hint = PlotHint(self, EMPTY)
        self.axes = (("accuracy_retained", "maximize"), ("speedup", "maximize"))
        self.points: dict[int, tuple[float, float]] = {}  # trial number -> (x, y) drawn
        self._set_axes(self.axes)

    def _set_axes(self, axes) -> None:
        self.axes = tuple(axes)
        (y_key, y_dir), (x_key, x_dir) = self.axes[0], self.axes[1]
        item = self.getPlotItem()
        item.setLabel("left", figure_label(y_key) + (" (lower is better)" if y_dir == "minimize" else ""))
        item.setLabel("bottom", figure_label(x_key) + (" (lower is better)" if x_dir == "minimize" else ""))
        item.setTitle(f"{figure_label(y_key)} against {figure_label(x_key).lower()}")

    def set_task(self, task: str | None) -> None:
        """Before any trial: the axes of a study on ``task`` (its retained figure against speedup)."""
        from core.scoring import retained_figure

        self._set_axes(((retained_figure(task), "maximize"), ("speedup", "maximize")))

    def show_report(self, report) -> None:
        """Draw ``report`` (:class:`core.study.report.StudyReport`): its finished trials, front and best."""
        if tuple(report.pareto_axes) != self.axes:
            self._set_axes(report.pareto_axes)
        y_key, x_key = self.axes[0][0], self.axes[1][0]
        done = [t for t in report.trials if t.status == "finished" and t.figures]
        self.points = {}
        for t in done:
            x, y = _value(t, x_key), _value(t, y_key)
            if not (math.isnan(x) or math.isnan(y)):
                self.points[t.number] = (x, y)
        front = [t.number for t in report.pareto if t.number in self.points]
        front.sort(key=lambda n: self.points[n][0])
        rest = [n for n in self.points if n not in front]
        self.others.setData([self.points[n][0] for n in rest], [self.points[n][1] for n in rest])
        fx, fy = [self.points[n][0] for n in front], [self.points[n][1] for n in front]
        self.front_dots.setData(fx, fy)
        self.front_line.setData(np.array(fx, dtype=float), np.array(fy, dtype=float))
        best = report.best.number if report.best is not None and report.best.number in self.points else None
        self.best.setData(*(([self.points[best][0]], [self.points[best][1]]) if best is not None else ([], [])))
        self._label()
        self._pad_ranges()
        self.hint.setVisible(not self.points)

    def _label(self) -> None:
        """Each dot's trial number (the trials table names it); none for a search's cloud of dots."""
        item = self.getPlotItem()
        for text in self.labels:
            item.removeItem(text)
        self.labels = []
        if len(self.points) > 30:
            return
        for number, (x, y) in self.points.items():
            text = pg.TextItem(str(number + 1), color="#374151", anchor=(-0.3, 1.1))
            text.setPos(x, y)
            item.addItem(text)
            self.labels.append(text)

    def _pad_ranges(self) -> None:
        # Trials often tie on one axis (every trial keeping 100 % accuracy): a degenerate range would show
        # sixteen-digit ticks, so each range is at least a few percent of its value wide.
        if not self.points:
            return
        item = self.getPlotItem()
        xs, ys = zip(*self.points.values())
        for values, setter in ((xs, item.setXRange), (ys, item.setYRange)):
            lo, hi = min(values), max(values)
            pad = max((hi - lo) * 0.12, abs(hi) * 0.05, 0.01)
            setter(max(0.0, lo - pad), hi + pad, padding=0)
