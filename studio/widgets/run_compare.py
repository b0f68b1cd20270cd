"""Several saved runs side by side: overlaid curves, accuracy vs speedup / size ratio with the Pareto front,
a paper-style results table with intervals, the recipe fields that differ, and "Measure side by side".

The scatters plot ratios against each run's baseline (recorded by the run, or measured now side by side),
never absolute latencies: runs timed at different moments on a busy machine do not compare by them."""

from __future__ import annotations

import html

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import (QFrame, QHeaderView, QLabel, QScrollArea, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from core.metrics.task_figures import SEQUENCE, headline_key, task_of
from studio.compare import (COLUMN_KEYS, MISSING, RESULT_COLUMNS, SCATTER_AXES, accuracy_ties, group_reasons,
                            missing_reason, recipe_diff, results_row, scatter_points)
from studio.widgets.live_plots import PlotHint, figure_title, plot_for_key
from studio.widgets.ratio_scatter import PALETTE, PLOT_MIN_HEIGHT, ScatterPlot
from studio.widgets.run_details import curve_plots, reset_range
from studio.widgets.side_by_side import SideBySidePanel, headline_of

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
TABLES_MIN_HEIGHT = 180


def run_key(names: list[str]) -> str:
    """One colour key for every plot (rich text): run n has colour ``PALETTE[n]`` in the curves and the scatters.

    It replaces a legend per plot, whose rows took the plot's height once a few runs were compared.
    """
    # nowrap: a name never breaks inside itself (Qt would break at its spaces and hyphens)
    entries = [f"<span style='white-space:nowrap'><span style='color:{PALETTE[n % len(PALETTE)]}'>\u25a0</span> "
               f"{html.escape(name)}</span>" for n, name in enumerate(names)]
    return "Runs: " + " &nbsp; ".join(entries) + " &nbsp; <span style='color:#6b7280'>(dashed: validation loss)</span>"


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
        self.headline_title = figure_title(SEQUENCE)  # the figure plot's title: the runs' headline figure

    def show_runs(self, records: list, series: dict[str, dict[str, list]]) -> None:
        self.records = list(records)
        self.fresh = None
        self.side_by_side.set_records(self.records)
        self.title.setText(f"Comparing {len(records)} runs")
        warning = baselines_warning(self.records)
        self.baselines.setText(warning)
        self.baselines.setVisible(bool(warning))
        self.key.setText(run_key([variant_name(r) for r in records]))
        self._name_headline(records)
        self._draw_curves(records, series)
        self._draw_figures()

    def _name_headline(self, records) -> None:
        """The figure plot and the results' second column after the runs' task's headline figure (``Entity F1``);
        runs of several tasks: "Headline figure", each cell naming its own."""
        tasks = {task_of(r) for r in records}
        title = figure_title(tasks.pop()) if len(tasks) == 1 else "Headline figure"
        self.headline_title = title
        self.curves["accuracy"].getPlotItem().setTitle(title)
        self.results.setHorizontalHeaderItem(1, QTableWidgetItem(title))

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
                what = name if name == "loss" or self.headline_title == figure_title(SEQUENCE) \
                    else self.headline_title
                hint.reveal(f"No {what} was recorded for these runs.")
