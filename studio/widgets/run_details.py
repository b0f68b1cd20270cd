"""One saved run: status, error, results, artifacts, recipe and its metric curves from the database."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import (QHeaderView, QLabel, QListWidget, QPlainTextEdit, QSplitter, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt

from core.metrics import figures as fig
from core.metrics.task_figures import SEQUENCE, task_of
from studio.widgets.live_plots import PlotHint, curve_name, figure_title, plot_for_key

_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
EMPTY_RANGE = (0.0, 1.0)  # what an empty plot's axes read, instead of the range of the run shown before


def reset_range(plot: pg.PlotWidget) -> None:
    """An empty plot shows 0 to 1 on both axes, not the range of the runs it showed before; auto-range stays on."""
    item = plot.getPlotItem()
    item.setXRange(*EMPTY_RANGE, padding=0)
    item.setYRange(*EMPTY_RANGE, padding=0)
    item.enableAutoRange()


def no_curve_text(name: str, record) -> str:
    """Why a saved run has no ``name`` curve, in the words its status and steps allow."""
    status = getattr(record, "status", "finished")
    if status != "finished":
        return f"No {name} was recorded: the run {status} before it recorded any."
    from core.engine.cache import describe_reuse

    reused = describe_reuse(getattr(record, "steps", ()) or ())
    if reused:
        return f"No {name} curve: this run reused {reused} from the step cache, so it trained nothing itself."
    return f"No {name} was recorded for this run (its stack does not train, or it trained no steps)."


def group_title(group: str, task: str) -> str:
    """A results-table group's title: a task without an accuracy calls its figures' group "Quality"."""
    return "Quality" if group == "accuracy" and task != SEQUENCE else group.capitalize()


def curve_plots() -> dict[str, pg.PlotWidget]:
    plots = {}
    for name in ("loss", "accuracy"):
        widget = pg.PlotWidget(background="w")
        item = widget.getPlotItem()
        item.setTitle(name.capitalize())
        item.setLabel("bottom", "step")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.addLegend(offset=(-10, 10))
        item.getAxis("left").enableAutoSIPrefix(False)
        plots[name] = widget
    return plots


class RunDetails(QWidget):
    """``show_run(record, series)``: ``series`` maps metric keys to lists of ``MetricPoint``."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.header = QLabel("")
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.results = QTableWidget(0, 2)
        self.results.setHorizontalHeaderLabels(["Figure", "Value"])
        self.results.verticalHeader().hide()
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.results.setWordWrap(True)
        self.results.setToolTip("Hover a figure for what it is and how it was measured (Help \u25b8 Figures and "
                                "methods explains them all).")
        self.artifacts = QListWidget()
        self.recipe_text = QPlainTextEdit()
        self.recipe_text.setReadOnly(True)
        info = QTabWidget()
        info.addTab(self.results, "Results")
        info.addTab(self.recipe_text, "Recipe")
        info.addTab(self.artifacts, "Artifacts")
        self.info_tabs = info
        self.plots = curve_plots()
        self.hints = {name: PlotHint(plot) for name, plot in self.plots.items()}
        for hint in self.hints.values():
            hint.hide()
        curves = QSplitter(Qt.Orientation.Vertical)
        for plot in self.plots.values():
            curves.addWidget(plot)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(info)
        split.addWidget(curves)
        split.setSizes([420, 520])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.error)
        layout.addWidget(split, 1)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.record = None
        self.task = SEQUENCE

    def set_task(self, task: str) -> None:
        """Title the figure plot after ``task``'s headline figure (``Entity F1``...), as the live plots do."""
        self.task = task
        title = figure_title(task)
        item = self.plots["accuracy"].getPlotItem()
        item.setTitle(title)
        item.setLabel("left", title.lower() if task == SEQUENCE else title)

    def show_run(self, record, series: dict[str, list]) -> None:
        from core.recipe import Recipe

        self.record = record
        self.set_task(task_of(record))
        duration = f", {record.duration:.0f} s" if record.duration is not None else ""
        started = record.started_at.astimezone().strftime("%Y-%m-%d %H:%M") if record.started_at else ""
        self.header.setText(f"<b>{record.name or '(unnamed)'}</b> &nbsp; {record.status} &nbsp; "
                            f"<span style='color:#6b7280'>{record.id[:8]} \u00b7 {record.model_source} on "
                            f"{record.device or '?'} \u00b7 {started}{duration}</span>")
        self.error.setText(f"\u26a0 {record.error}" if record.error else "")
        self.error.setVisible(bool(record.error))
        # ``figures`` keeps everything the run ended with (the latency protocol under "timing" too); ``results``
        # the numbers, as the results table holds them.
        self._show_figures({**dict(getattr(record, "figures", None) or {}), **dict(record.results or {})})
        self.artifacts.clear()
        for art in record.artifacts:
            self.artifacts.addItem(f"{art.kind}: {art.path}")
        try:
            self.recipe_text.setPlainText(Recipe.from_dict(record.recipe).to_text("yaml"))
        except Exception:  # a recipe from an older or newer studio: show it raw rather than nothing
            self.recipe_text.setPlainText(repr(record.recipe))
        self._draw(series)
        for name, plot in self.plots.items():
            if plot.getPlotItem().listDataItems():
                self.hints[name].hide()
                plot.getPlotItem().enableAutoRange()  # this run's range, not the one a zoom left
            else:
                reset_range(plot)
                title = name if name == "loss" or self.task == SEQUENCE else figure_title(self.task)
                self.hints[name].reveal(no_curve_text(title, record))

    def _show_figures(self, results: dict) -> None:
        """The figures by group (accuracy, size, speed), labelled, each explained in its tooltip.

        Names, labels, groups, help and wording all come from :mod:`core.metrics.figures`; the speed group
        ends with how the latency was timed (batch, lengths, threads, CPU).
        """
        self.results.clearSpans()
        self.results.setRowCount(0)
        group = None
        for row in fig.rows(results):
            if row.group != group:
                group = row.group
                self._group_row(group_title(group, self.task))
            self._figure_row(row.label, row.text, row.help, row.key)
            if row.key == "baseline_latency_ms" or (row.key == "latency_ms" and "baseline_latency_ms" not in results):
                try:
                    timed = fig.protocols(results)
                except (TypeError, ValueError):  # a protocol written by another studio version: leave it out
                    timed = []
                for profile, how in timed:
                    self._figure_row(f"Timed ({profile})", how, "How the latencies above were measured.", "")
        self.results.resizeRowsToContents()

    def _group_row(self, title: str) -> None:
        r = self.results.rowCount()
        self.results.insertRow(r)
        item = QTableWidgetItem(title)
        font = item.font()
        font.setBold(True)
        item.setFont(font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.results.setItem(r, 0, item)
        self.results.setSpan(r, 0, 1, 2)

    def _figure_row(self, label: str, text: str, help_text: str, key: str) -> None:
        r = self.results.rowCount()
        self.results.insertRow(r)
        name = QTableWidgetItem(label)
        cell = QTableWidgetItem(text)
        cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        tip = f"<b>{label}</b> <span style='color:#6b7280'>({key})</span><br>{help_text}" if key else help_text
        for item in (name, cell):
            item.setData(Qt.ItemDataRole.UserRole, key)
            if help_text:
                item.setToolTip(tip)
        self.results.setItem(r, 0, name)
        self.results.setItem(r, 1, cell)

    def figure_texts(self) -> dict[str, str]:
        """``{figure label: value as shown}`` (for tests and the clipboard)."""
        out = {}
        for r in range(self.results.rowCount()):
            value = self.results.item(r, 1)
            if value is not None:
                out[self.results.item(r, 0).text()] = value.text()
        return out

    def _draw(self, series: dict[str, list]) -> None:
        for plot in self.plots.values():
            item = plot.getPlotItem()
            item.clear()
            if item.legend is not None:
                item.legend.clear()
        self.curves = {}
        for n, (key, points) in enumerate(sorted(series.items())):
            target = plot_for_key(key, None if self.task == SEQUENCE else self.task)
            if target is None or not points:
                continue
            colour = _COLOURS[n % len(_COLOURS)]
            self.curves[key] = self.plots[target].plot(
                [p.step for p in points], [p.value for p in points], name=curve_name(key),
                pen=pg.mkPen(colour, width=2),
                symbol="o" if key.startswith("val/") else None, symbolSize=5, symbolBrush=colour)
