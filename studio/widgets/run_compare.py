"""Several saved runs side by side: overlaid curves, accuracy vs latency / size with the Pareto front,
a paper-style results table and the recipe fields that differ."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from studio.compare import RESULT_COLUMNS, pareto_front, recipe_diff, results_row, scatter_points
from studio.widgets.live_plots import plot_for_key
from studio.widgets.run_details import curve_plots

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def variant_name(record) -> str:
    return f"{record.name or '(unnamed)'} ({record.id[:6]})"


class ScatterPlot(pg.PlotWidget):
    """Accuracy against a cost, one coloured dot per run, the Pareto front as a dashed line."""

    def __init__(self, cost: str, xlabel: str):
        super().__init__(background="w")
        self.cost = cost
        item = self.getPlotItem()
        item.setTitle(f"Accuracy vs {cost}")
        item.setLabel("bottom", xlabel)
        item.setLabel("left", "accuracy")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.getAxis("bottom").enableAutoSIPrefix(False)
        self.front: list[int] = []

    def show_points(self, names: list[str], results: list[dict]) -> None:
        item = self.getPlotItem()
        item.clear()
        xs, ys = scatter_points(results, self.cost)
        for n, (x, y) in enumerate(zip(xs, ys)):
            if x == x and y == y:  # NaN-safe: a run without the figure is left out
                colour = PALETTE[n % len(PALETTE)]
                item.addItem(pg.ScatterPlotItem([x], [y], size=11, brush=pg.mkBrush(colour), pen=pg.mkPen("k")))
                label = pg.TextItem(names[n], color="#374151", anchor=(0, 1))
                label.setPos(x, y)
                item.addItem(label)
        self.front = pareto_front(xs, ys)
        self._pad_ranges([x for x in xs if x == x], [y for y in ys if y == y])
        if len(self.front) > 1:
            item.plot([xs[i] for i in self.front], [ys[i] for i in self.front],
                      pen=pg.mkPen("#6b7280", width=1.5, style=Qt.PenStyle.DashLine))


    def _pad_ranges(self, xs: list[float], ys: list[float]) -> None:
        # Runs often tie (same accuracy, near-equal sizes): a degenerate range makes unreadable 16-digit ticks.
        item = self.getPlotItem()
        for values, setter, floor in ((xs, item.setXRange, 0.0), (ys, item.setYRange, 0.0)):
            if values:
                lo, hi = min(values), max(values)
                pad = max((hi - lo) * 0.15, abs(hi) * 0.05, 0.01)
                setter(max(floor, lo - pad), hi + pad, padding=0)


class RunComparison(QWidget):
    """``show_runs(records, series)``: ``series[run_id][key]`` lists ``MetricPoint``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("")
        self.curves = curve_plots()
        self.curves["loss"].getPlotItem().setTitle("Loss (dashed: validation)")
        self.scatters = {"latency": ScatterPlot("latency", "latency (ms, lower is better)"),
                         "size": ScatterPlot("size", "size (MB, lower is better)")}
        self.results = _table(list(RESULT_COLUMNS))
        self.diff = _table(["Field"])
        top, middle = QSplitter(Qt.Orientation.Horizontal), QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.curves["loss"])
        top.addWidget(self.curves["accuracy"])
        middle.addWidget(self.scatters["latency"])
        middle.addWidget(self.scatters["size"])
        tables = QSplitter(Qt.Orientation.Horizontal)
        tables.addWidget(self.results)
        tables.addWidget(self.diff)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        for part in (top, middle, tables):
            self.splitter.addWidget(part)
        self.splitter.setSizes([300, 300, 220])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.splitter, 1)
        self.records: list = []

    def show_runs(self, records: list, series: dict[str, dict[str, list]]) -> None:
        self.records = list(records)
        names = [variant_name(r) for r in records]
        self.title.setText(f"Comparing {len(records)} runs")
        self._draw_curves(records, names, series)
        results = [dict(r.results or r.figures or {}) for r in records]
        for scatter in self.scatters.values():
            scatter.show_points(names, results)
        self.results.setRowCount(len(records))
        for i, (name, res) in enumerate(zip(names, results)):
            for j, text in enumerate(results_row(name, res)):
                cell = QTableWidgetItem(text)
                if j:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.results.setItem(i, j, cell)
        rows = recipe_diff([r.recipe for r in records])
        self.diff.setColumnCount(1 + len(records))
        self.diff.setHorizontalHeaderLabels(["Field", *names])
        self.diff.setRowCount(len(rows))
        for i, (path, values) in enumerate(rows):
            self.diff.setItem(i, 0, QTableWidgetItem(path))
            for j, value in enumerate(values, start=1):
                self.diff.setItem(i, j, QTableWidgetItem(value))

    def _draw_curves(self, records, names, series) -> None:
        for plot in self.curves.values():
            item = plot.getPlotItem()
            item.clear()
            if item.legend is not None:
                item.legend.clear()
        for n, record in enumerate(records):
            colour = PALETTE[n % len(PALETTE)]
            for key, points in sorted(series.get(record.id, {}).items()):
                target = plot_for_key(key)
                if target is None or not points:
                    continue
                dashed = key.startswith("val/") and target == "loss"
                pen = pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                # One legend entry per run (its main series); validation loss is the dashed line of the same colour.
                self.curves[target].plot([p.step for p in points], [p.value for p in points],
                                         name=None if dashed else names[n], pen=pen)
