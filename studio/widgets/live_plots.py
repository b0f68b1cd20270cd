"""Live loss and accuracy curves fed by :class:`~core.events.Metric` events.

As in pyqtgraph's scrolling-plot examples: each curve is created once, its
samples live in a numpy buffer that doubles when full, and a ~50 ms timer
redraws only the curves that received points (``setData(buf[:n])``), with
peak downsampling and clip-to-view so long runs stay cheap.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget

REDRAW_MS = 50
_COLOURS = {"train/loss": "#1f77b4", "val/loss": "#ff7f0e", "val/accuracy": "#2ca02c"}
_FALLBACK = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


class SeriesBuffer:
    """Growable ``(x, y)`` float buffers; ``n`` points are valid."""

    def __init__(self, capacity: int = 256):
        self.data = np.empty((capacity, 2), dtype=float)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.data):
            grown = np.empty((len(self.data) * 2, 2), dtype=float)
            grown[: self.n] = self.data
            self.data = grown
        self.data[self.n] = (x, y)
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self.data[: self.n, 0]

    @property
    def y(self) -> np.ndarray:
        return self.data[: self.n, 1]


def plot_for_key(key: str) -> str | None:
    """Which plot a metric key belongs on: ``loss``, ``accuracy`` or none."""
    if key.startswith("final/"):
        return None
    if key.endswith("loss"):
        return "loss"
    if "accuracy" in key:
        return "accuracy"
    return None


class LivePlots(QWidget):
    """Two plots (loss, accuracy) against the run's global step."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        self.plots: dict[str, pg.PlotWidget] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for name, ylabel in (("loss", "loss"), ("accuracy", "accuracy")):
            widget = pg.PlotWidget(background="w")
            item = widget.getPlotItem()
            item.setTitle(name.capitalize())
            item.setLabel("bottom", "step")
            item.setLabel("left", ylabel)
            item.showGrid(x=True, y=True, alpha=0.25)
            item.addLegend(offset=(-10, 10))
            item.setDownsampling(mode="peak")
            item.setClipToView(True)
            item.getAxis("left").enableAutoSIPrefix(False)  # "694.5 (x0.001)" reads worse than 0.6945
            self.plots[name] = widget
            layout.addWidget(widget)
        self.plots["accuracy"].getPlotItem().setYRange(0.0, 1.0)
        self.buffers: dict[str, SeriesBuffer] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._dirty: set[str] = set()
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def reset(self) -> None:
        """Forget every series (a new run starts)."""
        for plot in self.plots.values():
            item = plot.getPlotItem()
            for curve in self.curves.values():
                if curve.getViewBox() is item.getViewBox():
                    item.removeItem(curve)
            if item.legend is not None:
                item.legend.clear()
        self.buffers.clear()
        self.curves.clear()
        self._dirty.clear()

    def add_point(self, key: str, step: float, value: float) -> bool:
        """Buffer one point; returns whether ``key`` is plotted. Drawing waits for the timer."""
        target = plot_for_key(key)
        if target is None:
            return False
        if key not in self.curves:
            colour = _COLOURS.get(key) or _FALLBACK[len(self.curves) % len(_FALLBACK)]
            symbol = "o" if key.startswith("val/") else None  # validation points are sparse: show each
            self.curves[key] = self.plots[target].plot(name=key, pen=pg.mkPen(colour, width=2), symbol=symbol,
                                                       symbolSize=6, symbolBrush=colour)
            self.buffers[key] = SeriesBuffer()
        self.buffers[key].append(step, value)
        self._dirty.add(key)
        return True

    def on_metric(self, event) -> None:
        """Slot for :attr:`EventBridge.metric`."""
        self.add_point(event.key, event.step, event.value)

    def point_count(self, key: str) -> int:
        buf = self.buffers.get(key)
        return 0 if buf is None else buf.n

    def drawn_count(self, key: str) -> int:
        """Points the curve shows now (after the last redraw)."""
        curve = self.curves.get(key)
        if curve is None or curve.xData is None:
            return 0
        return len(curve.xData)

    def redraw(self) -> None:
        for key in self._dirty:
            buf = self.buffers[key]
            self.curves[key].setData(buf.x, buf.y)
        self._dirty.clear()
