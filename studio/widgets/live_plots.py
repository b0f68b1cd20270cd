"""Live loss, validation-figure and model-size curves fed by :class:`~core.events.Metric` events.

The second plot shows the task's headline validation figure (:data:`core.metrics.task_figures.HEADLINES`:
accuracy, entity F1, SQuAD F1 with exact match, Pearson r, micro F1), titled with its name; regression's MSE
goes on the loss plot (it is the same kind of number). The task is set before a run (:meth:`LivePlots.set_task`)
or read from the first validation figure that names one.

As in pyqtgraph's scrolling-plot examples: each curve is created once, its
samples live in a numpy buffer that doubles when full, and a ~50 ms timer
redraws only the curves that received points (``setData(buf[:n])``), with
peak downsampling and clip-to-view so long runs stay cheap.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from core.metrics.figures import label as figure_label
from core.metrics.task_figures import BY_TASK, HEADLINES

REDRAW_MS = 50
SEQUENCE = "sequence-classification"
# Beside the headline on the figure plot (same scale); regression's MSE on the loss plot.
COMPANIONS = {"question-answering": ("exact_match",), "multi-label": ("macro_f1",)}
ON_LOSS_PLOT = {"regression": ("mse",)}
_TASK_KEYS = frozenset(f.key for task, figs in BY_TASK.items() if task != SEQUENCE for f in figs)
_BY_HEADLINE = {key: task for task, key in HEADLINES.items()}
_COLOURS = {"train/loss": "#1f77b4", "val/loss": "#ff7f0e", "val/accuracy": "#2ca02c",
            "model/parameters": "#1f77b4", "model/sparsity": "#d62728", "model/size_bytes": "#9467bd"}
# Model-size series are shown in readable units: parameters in millions, size in MB, sparsity in percent.
_SCALE = {"model/parameters": 1e-6, "model/size_bytes": 1e-6, "model/sparsity": 100.0}
_SIZE_NAMES = {"model/parameters": "parameters (M)", "model/size_bytes": "size (MB)"}
PARAMETERS_KEY = "model/parameters"
SIZE_KEY = "model/size_bytes"
_FALLBACK = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
HINTS = {
    "loss": "Training and validation loss appear here when a run starts (Run, Ctrl+R).",
    "accuracy": "Validation accuracy appears here after each evaluation of a run (Run, Ctrl+R).",
    "size": "Parameters, size and sparsity after each step of a run appear here (Run, Ctrl+R).",
}
RUNNING_HINTS = {
    "loss": "This run's loss appears here with its first training step (a step taken from the step cache "
            "trains nothing here and reports none).",
    "size": "Parameters, size and sparsity appear here after each step of this run.",
}


class PlotHint(QLabel):
    """A grey note over the middle of a plot, for a plot that has nothing to show yet.

    A plain label on top of the plot widget, re-centred as the plot resizes: it ignores panning and auto-range
    and never counts as data.
    """

    def __init__(self, plot: pg.PlotWidget, text: str = ""):
        super().__init__(plot)
        self.plot = plot
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # clicks and wheel still reach the plot
        self.setStyleSheet("color: #6b7280; background: transparent;")
        self.set_text(text)
        plot.installEventFilter(self)  # re-centre as the plot resizes

    def eventFilter(self, watched, event) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._place()
        return False

    def set_text(self, text: str) -> None:
        self.setText(text)
        self._place()

    def reveal(self, text: str | None = None) -> None:
        """Show the note (with a new ``text`` if given) above the plot."""
        if text is not None:
            self.set_text(text)
        self.show()
        self.raise_()

    def is_shown(self) -> bool:
        return not self.isHidden()

    def _place(self) -> None:
        area = self.plot.rect()
        margin = max(8, area.width() // 8)  # wrap inside the plot, clear of its axes
        self.setGeometry(area.adjusted(margin, 40, -margin, -40))


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

    def put(self, x: float, y: float) -> None:
        """Append, or replace the last point when it has the same ``x`` (one value per step)."""
        if self.n and self.data[self.n - 1, 0] == x:
            self.data[self.n - 1, 1] = y
        else:
            self.append(x, y)

    @property
    def x(self) -> np.ndarray:
        return self.data[: self.n, 0]

    @property
    def y(self) -> np.ndarray:
        return self.data[: self.n, 1]


def task_of_key(key: str) -> str | None:
    """The task whose headline validation figure ``key`` is (``val/entity_f1`` -> token-classification)."""
    return _BY_HEADLINE.get(key[4:]) if key.startswith("val/") else None


def plot_for_key(key: str, task: str | None = None) -> str | None:
    """Which plot a metric key belongs on: ``loss``, ``accuracy`` (the task's figure plot) or none (saved runs
    and comparisons use it too). Without ``task``, a headline figure names its own task."""
    if key.startswith("final/"):
        return None
    if key.endswith("loss"):
        return "loss"
    name = key.split("/", 1)[-1]
    task = task or task_of_key(key)
    if task and task != SEQUENCE:
        if key.startswith("val/") and name in (HEADLINES[task], *COMPANIONS.get(task, ())):
            return "accuracy"
        if key.startswith("val/") and name in ON_LOSS_PLOT.get(task, ()):
            return "loss"
        if name in _TASK_KEYS:
            return None  # the task's other figures are in the run's summary, not on the plot
    if "accuracy" in key:
        return "accuracy"
    return None


def figure_title(task: str | None) -> str:
    """The figure plot's title: the task's headline figure (``Accuracy``, ``Entity F1``...)."""
    return figure_label(HEADLINES.get(task or SEQUENCE, "accuracy"))


def curve_name(key: str) -> str:
    """``val/entity_f1`` -> ``validation Entity F1``; loss and size keys keep their names."""
    name = key.split("/", 1)[-1]
    if key.startswith("val/") and not key.endswith("loss") and (name in _TASK_KEYS or name == "accuracy"):
        return f"validation {figure_label(name)}"
    return _SIZE_NAMES.get(key, key)


class LivePlots(QWidget):
    """Two plots (loss, accuracy) against the run's global step, and :attr:`size_plot` for the model size.

    ``size_plot`` (parameters in millions and size in MB on the left axis, sparsity in percent on the right) is
    drawn against the steps of the stack (0: the model as loaded, k: after step k), so a step that changes the
    size without training (int8, pruning) shows as its own point. It is not in this widget's layout: the window
    shows it in a tab of its own, beside these two.
    """

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
        self.task = SEQUENCE
        self.plots["accuracy"].getPlotItem().setYRange(0.0, 1.0)
        self.size_plot = self._build_size_plot()
        self.plots["size"] = self.size_plot
        # Before a run the plots are empty axes: say what will appear there and how to start (gone with the data).
        self.hints = {name: PlotHint(plot, HINTS[name]) for name, plot in self.plots.items()}
        self.last_step = 0  # the latest global step seen, for series that come without one (StepFinished)
        self.buffers: dict[str, SeriesBuffer] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._dirty: set[str] = set()
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def _build_size_plot(self) -> pg.PlotWidget:
        # Two y axes on one plot, as in pyqtgraph's MultiplePlotAxes example: a second ViewBox on the right axis.
        widget = pg.PlotWidget(background="w")
        item = widget.getPlotItem()
        item.setTitle("Model size")
        item.setLabel("bottom", "after step (0: as loaded)")
        item.setLabel("left", "parameters (M) \u00b7 size (MB)")
        item.getAxis("bottom").setTickSpacing(1, 1)  # whole steps only
        item.showGrid(x=True, y=True, alpha=0.25)
        item.addLegend(offset=(-10, 10))
        item.getAxis("left").enableAutoSIPrefix(False)
        item.showAxis("right")
        item.setLabel("right", "sparsity (%)")
        self.sparsity_view = pg.ViewBox()
        item.scene().addItem(self.sparsity_view)
        item.getAxis("right").linkToView(self.sparsity_view)
        self.sparsity_view.setXLink(item)
        self.sparsity_view.setYRange(0.0, 100.0)

        def follow() -> None:
            self.sparsity_view.setGeometry(item.getViewBox().sceneBoundingRect())
            self.sparsity_view.linkedViewChanged(item.getViewBox(), self.sparsity_view.XAxis)

        item.getViewBox().sigResized.connect(follow)
        return widget

    def set_task(self, task: str | None) -> None:
        """Plot ``task``'s headline validation figure, titled with its name (a new run's task)."""
        task = task if task in HEADLINES else SEQUENCE
        self.task = task
        title = figure_title(task)
        item = self.plots["accuracy"].getPlotItem()
        item.setTitle(title)
        item.setLabel("left", title.lower() if task == SEQUENCE else title)
        low = -1.0 if task == "regression" else 0.0  # a correlation runs from -1
        item.setYRange(low, 1.0)
        hint = HINTS["accuracy"] if task == SEQUENCE else HINTS["accuracy"].replace("accuracy", title)
        self.hints["accuracy"].set_text(hint)

    def reset(self, running: bool = False) -> None:
        """Forget every series and the last run's axes; ``running``: a new run has started, and the notes say
        what its plots wait for (a step taken from the step cache trains nothing and reports no loss)."""
        for curve in self.curves.values():
            view = curve.getViewBox()
            if view is not None:
                view.removeItem(curve)
        for name, plot in self.plots.items():
            item = plot.getPlotItem()
            if item.legend is not None:
                item.legend.clear()
            view = item.getViewBox()
            view.setXRange(0, 1, padding=0)  # the last run's steps (0-80) must not frame this one's
            if name != "accuracy":  # its figure's own scale stays (0-1, or -1-1 for a correlation)
                view.setYRange(0, 1, padding=0)
            view.enableAutoRange()
        self.buffers.clear()
        self.curves.clear()
        self._dirty.clear()
        self.last_step = 0
        for name, hint in self.hints.items():
            hint.reveal(RUNNING_HINTS[name] if running and name in RUNNING_HINTS else
                        HINTS[name] if name in RUNNING_HINTS else None)

    def add_point(self, key: str, step: float, value: float) -> bool:
        """Buffer one point; returns whether ``key`` is plotted. Drawing waits for the timer.

        Model-size keys take ``step`` as the stack position (0: as loaded, k: after step k), one value each.
        """
        if key not in _SCALE and task_of_key(key) not in (None, self.task):
            self.set_task(task_of_key(key))  # a run whose task was not set beforehand names it with its figure
        target = "size" if key in _SCALE else plot_for_key(key, self.task)
        if target is None:
            return False
        if key not in self.curves:
            colour = _COLOURS.get(key) or _FALLBACK[len(self.curves) % len(_FALLBACK)]
            # Validation and model-size points are sparse: show each.
            symbol = "o" if key.startswith(("val/", "model/")) else None
            style = dict(pen=pg.mkPen(colour, width=2), symbol=symbol, symbolSize=6, symbolBrush=colour)
            if key == "model/sparsity":
                curve = pg.PlotDataItem(name="sparsity (%)", **style)
                self.sparsity_view.addItem(curve)
                self.size_plot.getPlotItem().legend.addItem(curve, "sparsity (%)")
            else:
                curve = self.plots[target].plot(name=curve_name(key), **style)
            self.curves[key] = curve
            self.buffers[key] = SeriesBuffer()
            self.hints[target].hide()
        if target == "size":
            self.buffers[key].put(step, value * _SCALE.get(key, 1.0))
        else:
            self.last_step = max(self.last_step, step)
            self.buffers[key].append(step, value * _SCALE.get(key, 1.0))
        self._dirty.add(key)
        return True

    def on_metric(self, event) -> None:
        """Slot for :attr:`EventBridge.metric`.

        ``model/parameters`` from the methods is skipped: the curve takes one point per step from
        :meth:`on_step_finished` instead (some methods emit it too, and ``evaluate`` counts non-zeros only).
        The engine's count before the first step (index -1) is kept: it is the curve's starting point.
        Model-size keys are placed after the step that sent them (index + 1; the model as loaded at 0).
        """
        if event.key in _SCALE:
            if event.key != PARAMETERS_KEY or event.index < 0:
                self.add_point(event.key, max(event.index + 1, 0), event.value)
        else:
            self.add_point(event.key, event.step, event.value)

    def on_step_finished(self, event) -> None:
        """Slot for :attr:`EventBridge.stepFinished`: one parameter-count point per step, after that step."""
        parameters = event.summary.get("parameters")
        if parameters is not None:
            self.add_point(PARAMETERS_KEY, event.index + 1, float(parameters))

    def on_run_finished(self, results: dict, steps: int) -> None:
        """The final model's measured size, after the last step (where no step reported its size)."""
        size = results.get("size_bytes")
        if isinstance(size, (int, float)) and size == size:
            self.add_point(SIZE_KEY, steps, float(size))

    def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """The buffered ``(x, y)`` of ``key`` in plotted units (copies)."""
        buf = self.buffers.get(key)
        return (np.empty(0), np.empty(0)) if buf is None else (buf.x.copy(), buf.y.copy())

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
            curve = self.curves[key]
            if buf.n <= 2 and not key.startswith(("val/", "model/")):
                # A line needs two points: the first training loss shows as a dot rather than an empty plot.
                curve.setSymbol("o" if buf.n == 1 else None)
                curve.setSymbolSize(5)
            curve.setData(buf.x, buf.y)
        self._dirty.clear()
