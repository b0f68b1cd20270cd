"""Several saved runs side by side: overlaid curves, accuracy vs speedup / size ratio with the Pareto front,
a paper-style results table with intervals, the recipe fields that differ, and "Measure side by side".

The scatters plot ratios against each run's baseline (recorded by the run, or measured now side by side),
never absolute latencies: runs timed at different moments on a busy machine do not compare by them."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (QFrame, QHeaderView, QLabel, QScrollArea, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from core.metrics import figures
from core.metrics.task_figures import headline_key
from studio.compare import (COLUMN_KEYS, MISSING, RESULT_COLUMNS, SCATTER_AXES, accuracy_ties, group_reasons,
                            headline_axis, missing_reason, ratio_front, recipe_diff, results_row, scatter_points)
from studio.widgets.live_plots import PlotHint, plot_for_key
from studio.widgets.run_details import curve_plots, reset_range
from studio.widgets.side_by_side import SideBySidePanel, headline_of

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
_AXIS_KEYS = {axis: key for axis, (key, _) in SCATTER_AXES.items()}
IDENTICAL = "The recipes are identical (apart from their names)."
DIFFERENT = "Recipe fields that differ"


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


def _note() -> QLabel:
    label = QLabel("")
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


# A plot row needs this much to keep a readable view box (about 200 px) under its title and x axis; with less
# room the comparison scrolls instead of squeezing the plots.
PLOT_MIN_HEIGHT = 300
LABEL_MARGIN = 4  # px between a point label and the edge of the view
LABEL_GAP = 6  # px between a label and its dot
TABLES_MIN_HEIGHT = 180


def run_key(names: list[str]) -> str:
    """One colour key for every plot (rich text): run n has colour ``PALETTE[n]`` in the curves and the scatters.

    It replaces a legend per plot, whose rows took the plot's height once a few runs were compared.
    """
    # nowrap: a name never breaks inside itself (Qt would break at its spaces and hyphens)
    entries = [f"<span style='white-space:nowrap'><span style='color:{PALETTE[n % len(PALETTE)]}'>\u25a0</span> "
               f"{html.escape(name)}</span>" for n, name in enumerate(names)]
    return "Runs: " + " &nbsp; ".join(entries) + " &nbsp; <span style='color:#6b7280'>(dashed: validation loss)</span>"


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


def base_models(records) -> list[str]:
    """The distinct model sources the runs' recipes start from, in first-seen order."""
    return list(dict.fromkeys(str(((r.recipe or {}).get("model") or {}).get("source") or r.model_source or "?")
                              for r in records))


def baselines_warning(records) -> str:
    """A warning when the runs start from different models: each ratio is against its own run's baseline."""
    models = base_models(records)
    if len(models) < 2:
        return ""
    return ("\u26a0 These runs start from different models (" + ", ".join(models) + "): each speedup and size "
            "ratio is against its own run's baseline, so ratios of runs on different models do not compare.")


class _WheelToScroll(QObject):
    """Sends a wheel turned over a plot to the comparison's scroll bar: the pane scrolls, the plot does not zoom."""

    def __init__(self, scroll: QScrollArea):
        super().__init__(scroll)
        self.scroll = scroll

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Wheel:
            QCoreApplication.sendEvent(self.scroll.verticalScrollBar(), event)
            return True
        return False


def _column(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QTableWidget) else 0)
    layout.addStretch()  # takes the height when the table is hidden, so a note stays at the top
    return box


class RunComparison(QWidget):
    """``show_runs(records, series)``: ``series[run_id][key]`` lists ``MetricPoint``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("")
        self.curves = curve_plots()
        self.curves["loss"].getPlotItem().setTitle("Loss (dashed: validation)")
        for plot in self.curves.values():
            plot.setMinimumHeight(PLOT_MIN_HEIGHT)
            plot.getPlotItem().legend.hide()  # the run key above the plots names the colours for all four
        self.key = QLabel("")
        self.key.setWordWrap(True)
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.curve_hints = {name: PlotHint(plot) for name, plot in self.curves.items()}
        self.scatters = {axis: ScatterPlot(axis) for axis in SCATTER_AXES}
        self.side_by_side = SideBySidePanel()
        self.side_by_side.measured.connect(self._measured)
        self.results = _table(list(RESULT_COLUMNS))
        self.results_note = _note()  # why figures are blank
        self.noise_note = _note()  # accuracies that differ by less than the noise
        self.diff = _table(["Field"])
        self.diff_note = _note()  # a caption, or "the recipes are identical" in place of an empty table
        top, middle = QSplitter(Qt.Orientation.Horizontal), QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.curves["loss"])
        top.addWidget(self.curves["accuracy"])
        middle.addWidget(self.scatters["speedup"])
        middle.addWidget(self.scatters["size"])
        tables = QSplitter(Qt.Orientation.Horizontal)
        tables.setMinimumHeight(TABLES_MIN_HEIGHT)
        tables.addWidget(_column(self.results, self.noise_note, self.results_note))
        tables.addWidget(_column(self.diff_note, self.diff))
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        for part in (top, middle, tables):
            self.splitter.addWidget(part)
        self.splitter.setSizes([PLOT_MIN_HEIGHT, PLOT_MIN_HEIGHT, TABLES_MIN_HEIGHT])
        self.splitter.setChildrenCollapsible(False)
        self.scroll = QScrollArea()  # scrolls when the window is too short for readable plots
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.splitter)
        self.wheel = _WheelToScroll(self.scroll)
        for plot in (*self.curves.values(), *self.scatters.values()):
            plot.viewport().installEventFilter(self.wheel)  # drag still pans; the wheel scrolls the pane
        self.baselines = QLabel("")
        self.baselines.setObjectName("problems")  # the amber box the window uses for what to read first
        self.baselines.setWordWrap(True)
        self.baselines.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.baselines)
        layout.addWidget(self.side_by_side)
        layout.addWidget(self.key)
        layout.addWidget(self.scroll, 1)
        self.records: list = []
        self.fresh: dict[str, dict] | None = None  # run id -> figures measured side by side, once measured

    def show_runs(self, records: list, series: dict[str, dict[str, list]]) -> None:
        self.records = list(records)
        self.fresh = None
        self.side_by_side.set_records(self.records)
        self.title.setText(f"Comparing {len(records)} runs")
        warning = baselines_warning(self.records)
        self.baselines.setText(warning)
        self.baselines.setVisible(bool(warning))
        self.key.setText(run_key([variant_name(r) for r in records]))
        self._draw_curves(records, series)
        self._draw_figures()

    def _measured(self, fresh: dict[str, dict]) -> None:
        self.fresh = fresh
        self._draw_scatters([variant_name(r) for r in self.records], self._plotted())

    def _recorded(self) -> list[dict]:
        return [dict(r.results or r.figures or {}) for r in self.records]

    def _plotted(self) -> list[dict]:
        """What the scatters plot: the recorded figures, with fresh side-by-side ones over them once measured."""
        return [headline_of(self.fresh, r.id, res) for r, res in zip(self.records, self._recorded())]

    def _why(self, results: list[dict]):
        # why[n](key): why run n has no figure `key` (None when it has it), for the notes beside blanks.
        return [lambda key, r=r, res=res: missing_reason(getattr(r, "status", "finished"), r.recipe, res, key)
                for r, res in zip(self.records, results)]

    def _draw_figures(self) -> None:
        names = [variant_name(r) for r in self.records]
        results = self._recorded()
        self._draw_scatters(names, self._plotted())
        self._fill_results(names, results, self._why(results))
        ties = accuracy_ties(names, results)
        self.noise_note.setText(". ".join(ties) + "." if ties else "")
        self.noise_note.setVisible(bool(ties))
        self._fill_diff(self.records, names)

    def _draw_scatters(self, names: list[str], results: list[dict]) -> None:
        why = self._why(results)
        for axis, scatter in self.scatters.items():
            xs, _ = scatter_points(results, axis)
            missing = []
            for n, name in enumerate(names):
                reason = (why[n](_AXIS_KEYS[axis]) if xs[n] != xs[n] else None) or why[n](headline_key(results[n]))
                if reason:
                    missing.append((name, reason))
            scatter.show_points(names, results, missing, fresh=self.fresh is not None)

    def _fill_results(self, names, results, why) -> None:
        self.results.setRowCount(len(names))
        notes = []
        for i, (name, res) in enumerate(zip(names, results)):
            blanks: dict[str, list[str]] = {}  # reason -> the columns it leaves blank
            for j, text in enumerate(results_row(name, res)):
                cell = QTableWidgetItem(text)
                if j:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    reason = why[i](COLUMN_KEYS[RESULT_COLUMNS[j]]) if not text else None
                    if reason:
                        cell.setText(MISSING)
                        cell.setToolTip(f"{name} {reason}")
                        blanks.setdefault(reason, []).append(RESULT_COLUMNS[j])
                self.results.setItem(i, j, cell)
            for reason, columns in blanks.items():
                what = "no figures" if len(columns) == len(RESULT_COLUMNS) - 1 else f"no {', '.join(columns)}"
                notes.append((name, f"{reason}: {what}"))
        self.results_note.setText(group_reasons(notes).replace("; ", ". ") + "." if notes else "")
        self.results_note.setVisible(bool(notes))

    def _fill_diff(self, records, names) -> None:
        rows = recipe_diff([r.recipe for r in records])
        self.diff_note.setText(DIFFERENT if rows else IDENTICAL)
        self.diff.setVisible(bool(rows))
        self.diff.setColumnCount(1 + len(records))
        self.diff.setHorizontalHeaderLabels(["Field", *names])
        self.diff.setRowCount(len(rows))
        for i, (path, values) in enumerate(rows):
            self.diff.setItem(i, 0, QTableWidgetItem(path))
            for j, value in enumerate(values, start=1):
                self.diff.setItem(i, j, QTableWidgetItem(value))

    def _draw_curves(self, records, series) -> None:
        for plot in self.curves.values():
            plot.getPlotItem().clear()
        for n, record in enumerate(records):
            colour = PALETTE[n % len(PALETTE)]
            for key, points in sorted(series.get(record.id, {}).items()):
                target = plot_for_key(key)
                if target is None or not points:
                    continue
                dashed = key.startswith("val/") and target == "loss"
                pen = pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
                # Validation loss is the dashed line of the run's colour; the run key names the colours.
                # A series of one or two points (a final accuracy, a run whose training came from the step cache)
                # is no visible line: it gets dots.
                dots = {"symbol": "o", "symbolSize": 7, "symbolBrush": colour, "symbolPen": colour} \
                    if len(points) < 3 else {}
                self.curves[target].plot([p.step for p in points], [p.value for p in points], pen=pen, **dots)
        for name, plot in self.curves.items():
            hint = self.curve_hints[name]
            if plot.getPlotItem().listDataItems():
                hint.hide()
                plot.getPlotItem().enableAutoRange()  # fit these runs, not the range a zoom left
            else:
                reset_range(plot)
                hint.reveal(f"No {name} was recorded for these runs.")
