""""Measure side by side": the compared runs' final models and their baseline timed now, in alternation.

The figures a run recorded were taken when it ended, under whatever else the
machine was doing; this re-measures every selected run in one process, now
(:func:`core.services.side_by_side.measure_records`, off the GUI thread), and
shows each speedup with its interval and the protocol, a wide interval marked
unreliable and a model too small to time noted as such.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from core.metrics import figures
from core.services.side_by_side import BASELINE_WHAT, DEFAULT_ROUNDS, SideBySide, measure_records
from studio.workers import run_in_background

COLUMNS = ("Run", "Profile", "Speedup", "Latency", "Baseline latency", "Size")
IDLE = ("Each run's figures were measured when it ended. Measure side by side times every selected run's final "
        "model and the baseline now, in alternation, so the speedups compare with each other.")


STOPPED = "Stopped: nothing was measured (the runs keep the figures they recorded)."


class Superseded(Exception):
    """The runs shown changed, or Stop was pressed, while a measurement was under way: its figures are not wanted."""


class SideBySidePanel(QWidget):
    """A button, a progress line and the fresh figures; ``measured`` carries ``{run_id: headline figures}``."""

    measured = Signal(object)

    def __init__(self, parent: QWidget | None = None,
                 measure: Callable[..., SideBySide] = measure_records, rounds: int = DEFAULT_ROUNDS):
        super().__init__(parent)
        self.measure_fn = measure
        self.rounds = rounds
        self.button = QPushButton("Measure side by side")
        self.button.setToolTip("Time every selected run's final model and the baseline now, in alternation, "
                               "in one process on this machine (takes a while for real models)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the measurement (it stops before the next round)")
        self.stop_button.hide()
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.bar.setFormat("%v/%m")
        self.bar.setMaximumWidth(160)
        self.bar.hide()
        self.status = QLabel(IDLE)
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.hide()
        self.protocol = QLabel("")
        self.protocol.setObjectName("hint")
        self.protocol.setWordWrap(True)
        self.protocol.hide()
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.stop_button)
        row.addWidget(self.bar)
        row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table)
        layout.addWidget(self.protocol)
        self.records: list = []
        self.result: SideBySide | None = None
        self._generation = 0
        self.running = False
        self.call = None  # the measurement's BackgroundCall, while one runs
        self.button.clicked.connect(self.measure)
        self.stop_button.clicked.connect(self.stop)

    def set_records(self, records: list) -> None:
        """New runs to compare: any measurement under way is dropped, the old figures cleared."""
        self._generation += 1
        self.records = list(records)
        self.result = None
        self._set_running(False)
        self.button.setEnabled(bool(self.records))
        self.status.setText(IDLE)
        self.table.hide()
        self.protocol.hide()

    def measure(self) -> None:
        if self.running or not self.records:
            return
        self._generation += 1
        generation, records = self._generation, list(self.records)

        def check() -> None:
            if generation != self._generation:
                raise Superseded()

        def job(tell) -> SideBySide:
            return self.measure_fn(records, rounds=self.rounds, check=check,
                                   progress=lambda n, total, message: tell((generation, n, total, message)))

        self._set_running(True)
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.status.setText(f"Measuring {len(records)} runs and their baseline now\u2026")
        self.call = run_in_background(job, lambda result: self._done(generation, result),
                                      lambda exc: self._failed(generation, exc), self,
                                      on_told=lambda told: told[0] == self._generation and self._show_progress(*told[1:]))

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.button.setEnabled(not running and bool(self.records))
        self.stop_button.setVisible(running)
        self.stop_button.setEnabled(running)
        self.bar.setVisible(running)

    def stop(self) -> None:
        """Stop a measurement under way: the thread stops at its next check (before the next round or load)."""
        if not self.running:
            return
        self._generation += 1  # the job's check raises Superseded from now on; its result is dropped
        self._set_running(False)
        self.status.setText(STOPPED)

    def _show_progress(self, current: int, total: int, message: str) -> None:
        if self.running:
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(min(current, total))
            self.status.setText(f"Measuring now: {message}")

    def _done(self, generation: int, result: SideBySide) -> None:
        if generation != self._generation:
            return
        self._set_running(False)
        self.result = result
        self._fill(result)
        self.measured.emit({m.run_id: m.headline() for m in result.runs})

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation or isinstance(exc, Superseded):
            return
        self._set_running(False)
        self.status.setText(f"Could not measure side by side: {exc}")

    def texts(self) -> list[list[str]]:
        """The fresh table's cells (row by row), as shown."""
        return [[self.table.item(i, j).text() for j in range(self.table.columnCount())]
                for i in range(self.table.rowCount())]

    def _fill(self, result: SideBySide) -> None:
        rows, protocols, unsure = [], {}, []
        for m in result.runs:
            size = figures.phrase("size_ratio", m.size_ratio) if m.size_ratio is not None else "-"
            for n, p in enumerate(m.profiles):
                f = p.figures
                rows.append([m.name if n == 0 else "", p.profile, figures.describe(f, "speedup"),
                             figures.describe(f, "latency_ms"), figures.describe(f, "baseline_latency_ms"),
                             size if n == 0 else ""])
                protocols.setdefault(p.profile, p.protocol.describe())
                if figures.unreliable(f) or f.get("speed_note"):
                    unsure.append(m.name)
        self.table.setRowCount(len(rows))
        for i, cells in enumerate(rows):
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.show()
        lines = [f"{name}: {how}" for name, how in protocols.items()]
        lines.append(f"Baseline: {BASELINE_WHAT}. In brackets the interquartile range of the per-round ratios.")
        self.protocol.setText("\n".join(lines))
        self.protocol.show()
        when = "Measured now, side by side; the scatters show these figures."
        if unsure:
            when += (f" Not to be read as fact: {', '.join(dict.fromkeys(unsure))} (a wide interval or a model "
                     "too small to time).")
        self.status.setText(when)


def headline_of(fresh: dict[str, Any] | None, run_id: str, recorded: dict) -> dict:
    """The figures a comparison plots for a run: recorded, with the fresh speed and size figures over them."""
    out = dict(recorded)
    if fresh and run_id in fresh:
        for key in [k for k in out if k.startswith(("speedup", "speed_note"))]:
            del out[key]  # a stale note or interval must not outlive a fresh measurement
        out.update(fresh[run_id])
    return out
