"""A saved runs' scatter: their headline figure against a ratio to each run's baseline (speedup or size ratio),
one coloured dot per run, the Pareto front dashed, a speedup's interval as a bar (:class:`ScatterPlot`; the
comparison view, :mod:`studio.widgets.run_compare`, shows two)."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetrics

from core.metrics import figures
from studio.compare import SCATTER_AXES, group_reasons, headline_axis, ratio_front, scatter_points
from studio.widgets.live_plots import PlotHint
from studio.widgets.run_details import reset_range

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
PLOT_MIN_HEIGHT = 300
LABEL_MARGIN = 4  # px between a point label and the edge of the view
LABEL_GAP = 6  # px between a label and its dot


class ScatterPlot(pg.PlotWidget):
    """Accuracy against a ratio to the baseline, one coloured dot per run, the Pareto front as a dashed line.

    A speedup's interval is drawn as a horizontal bar; an unreliable one (wide interval) as a hollow dot
    with "(unreliable)" after the run's name.
    """

    def __init__(self, axis: str):
        super().__init__(background="w")
        self.axis = axis
        self.cost = "speedup" if axis == "speedup" else "size ratio"  # the word the notes use
        self.fresh = False  # plotting figures measured side by side now, not the runs' own
        self.headline = "accuracy"  # the vertical axis: the runs' headline figure (headline_axis)
        item = self.getPlotItem()
        item.setTitle(self._title())
        item.setLabel("bottom", SCATTER_AXES[axis][1])
        item.setLabel("left", "accuracy")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.getAxis("bottom").enableAutoSIPrefix(False)
        self.front: list[int] = []
        self.xs: list[float] = []
        self.labels: list[str] = []
        self.hint = PlotHint(self)
        self.hint.hide()
        self.setMinimumHeight(PLOT_MIN_HEIGHT)
        self.texts: list[tuple[pg.TextItem, float, float, str]] = []  # label, x, y, full text
        item.getViewBox().sigResized.connect(self.place_labels)
        item.getViewBox().sigRangeChanged.connect(self.place_labels)

    def _title(self) -> str:
        what = "speedup" if self.axis == "speedup" else "size ratio"
        return f"{self.headline[0].upper()}{self.headline[1:]} vs {what}" + \
            (" (measured now, side by side)" if self.fresh else "")

    def show_points(self, names: list[str], results: list[dict], missing: list[tuple[str, str]] = (),
                    fresh: bool = False) -> None:
        """``missing`` lists ``(name, reason)`` for the runs without this ratio or an accuracy: they are explained."""
        item = self.getPlotItem()
        item.clear()
        self.fresh = fresh
        self.headline = headline_axis(results)
        item.setTitle(self._title())
        item.setLabel("left", self.headline)
        self._explain(names, missing)
        xs, ys = scatter_points(results, self.axis)
        self.xs, self.labels, self.texts = xs, [], []
        ends: list[float] = []  # interval ends, so no error bar runs off the view
        for n, (x, y) in enumerate(zip(xs, ys)):
            if x == x and y == y:  # NaN-safe: a run without the figure is left out
                colour = PALETTE[n % len(PALETTE)]
                unsure = self.axis == "speedup" and figures.unreliable(results[n], "speedup")
                spread = figures.interval(results[n], "speedup") if self.axis == "speedup" else None
                if spread is not None:
                    ends += [spread.low, spread.high]
                    item.addItem(pg.ErrorBarItem(x=np.array([x]), y=np.array([y]), left=np.array([x - spread.low]),
                                                 right=np.array([spread.high - x]), beam=0.004,
                                                 pen=pg.mkPen(colour, width=1.5)))
                brush = pg.mkBrush(None) if unsure else pg.mkBrush(colour)
                item.addItem(pg.ScatterPlotItem([x], [y], size=11, brush=brush, pen=pg.mkPen(colour if unsure else "k")))
                text = names[n] + (" (unreliable)" if unsure else "")
                self.labels.append(text)
                label = pg.TextItem(text, color=colour, anchor=(0, 1))  # its colour ties a moved label to its dot
                label.setPos(x, y)
                label.setToolTip(text)
                item.addItem(label)
                self.texts.append((label, x, y, text))
        self.front = ratio_front(xs, ys)
        shown = [(x, y) for x, y in zip(xs, ys) if x == x and y == y]
        if shown:
            self._pad_ranges([x for x, _ in shown] + ends, [y for _, y in shown])
        else:
            reset_range(self)
        if len(self.front) > 1:
            item.plot([xs[i] for i in self.front], [ys[i] for i in self.front],
                      pen=pg.mkPen("#6b7280", width=1.5, style=Qt.PenStyle.DashLine))
        self.place_labels()

    def place_labels(self, *_) -> None:
        """Keep every point label inside the view: right of its dot where it fits, else left of it (or shifted
        along), above the dot unless that leaves the top; a name wider than the view is elided (full in the tooltip).

        Labels ignore the zoom (they are sized in pixels), so this runs again whenever the view is resized or panned.
        """
        box = self.getPlotItem().getViewBox()
        width, height = box.width(), box.height()
        if not self.texts or width <= 0 or height <= 0:
            return
        room = max(1.0, width - 2 * LABEL_MARGIN)
        placed: list[QRectF] = []  # labels already placed, in the box's pixels
        for label, x, y, text in self.texts:
            metrics = QFontMetrics(label.textItem.font())
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(room) - 8)
            if label.toPlainText() != shown:
                label.setText(shown)
            rect = label.textItem.boundingRect()
            w, h = rect.width(), rect.height()
            point = box.mapFromView(pg.Point(x, y))  # in the box's own pixels
            px, py = point.x(), point.y()
            if px + LABEL_GAP + w <= width - LABEL_MARGIN:
                left = px + LABEL_GAP  # right of the dot
            elif px - LABEL_GAP - w >= LABEL_MARGIN:
                left = px - LABEL_GAP - w  # near the right edge: left of the dot
            else:  # wider than either side: shifted along as far as the view allows
                left = min(max(px - w / 2, LABEL_MARGIN), width - LABEL_MARGIN - w)
            top = py - h if py - h >= LABEL_MARGIN else py  # above the dot, else below it
            top = self._free_row(left, top, w, h, height, placed)
            placed.append(QRectF(left, top, w, h))
            label.setAnchor(((px - left) / w if w else 0.0, (py - top) / h if h else 1.0))

    @staticmethod
    def _free_row(left: float, top: float, w: float, h: float, height: float, placed: list[QRectF]) -> float:
        """``top`` moved by whole label heights (nearest first) until the label covers no placed one; runs that
        tie share a dot position, and their names would print over each other. Stays inside the view."""
        lowest, highest = LABEL_MARGIN, height - LABEL_MARGIN - h
        top = min(max(top, lowest), highest)
        for shift in (0, -1, 1, -2, 2, -3, 3, -4, 4):
            candidate = top + shift * h
            if lowest <= candidate <= highest and \
                    not any(r.intersects(QRectF(left, candidate, w, h)) for r in placed):
                return candidate
        return top

    def _explain(self, names: list[str], missing: list[tuple[str, str]]) -> None:
        title = self._title()
        why = html.escape(group_reasons(missing))  # run names are the user's text, shown as rich text here
        if missing and len(missing) == len(names):
            self.hint.reveal(f"No {self.cost} measured for these runs.<br>{why}.")
        else:
            self.hint.hide()
            if missing:  # some dots are absent: say which and why under the title
                title += f"<br><span style='font-size:8pt; color:#6b7280'>not shown: {why}</span>"
        self.getPlotItem().setTitle(title)

    def _pad_ranges(self, xs: list[float], ys: list[float]) -> None:
        # Runs often tie (same accuracy, near-equal sizes): a degenerate range makes unreadable 16-digit ticks.
        item = self.getPlotItem()
        for values, setter, floor in ((xs, item.setXRange, 0.0), (ys, item.setYRange, 0.0)):
            if values:
                lo, hi = min(values), max(values)
                pad = max((hi - lo) * 0.15, abs(hi) * 0.05, 0.01)
                setter(max(floor, lo - pad), hi + pad, padding=0)
