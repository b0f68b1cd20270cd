"""The interaction table of an order study: for each pair, A alone, B alone, A -> B, B -> A, and what
"no interaction" predicts (speedups and size ratios multiply, drops of the study task's headline figure add:
accuracy, entity F1, SQuAD F1, Pearson r or micro F1), then the interaction and order effects, each called
"inside the noise" when no larger than its spread (:mod:`core.study.interaction` does the arithmetic; this widget
only shows it)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from core.metrics.task_figures import difference_text, drop_label, headline_label, is_fraction
from core.study.interaction import INSIDE, MEASURABLE, Effect, Measured

COLUMNS = ("", "Speedup", "Size ratio", "Accuracy drop")
EMPTY = ("The table fills in once each chosen step has run alone; then each pair's two orders "
         "are set against what independent methods would give.")
HEADER_BG = "#e5e7eb"
VERDICT_COLOURS = {INSIDE: "#6b7280", MEASURABLE: "#111827"}


def _ratio(m: Measured | float) -> str:
    value, spread = (m.value, m.spread) if isinstance(m, Measured) else (m, math.nan)
    if math.isnan(value):
        return "-"
    return f"{value:.2f}x" + (f" \u00b1 {spread:.2f}" if not math.isnan(spread) else "")


def _difference(value: float, spread: float, headline: str) -> str:
    """A drop of the headline figure: in percentage points for a share (accuracy, F1), plain for a correlation."""
    return difference_text(value, spread, headline)


def _drop(m: Measured | float, headline: str = "accuracy") -> str:
    value, spread = (m.value, m.spread) if isinstance(m, Measured) else (m, math.nan)
    return _difference(value, spread, headline)


def _effect(effect: Effect | None, ratio: bool, headline: str = "accuracy") -> tuple[str, str]:
    """The effect as text, and its verdict."""
    if effect is None:
        return "-", ""
    if math.isnan(effect.value):
        return "-", effect.verdict
    if not ratio:
        return f"{_difference(effect.value, effect.spread, headline)} ({effect.verdict})", effect.verdict
    text = f"{effect.value:.2f}x"
    if not math.isnan(effect.spread):
        text += f" \u00b1 {effect.spread:.2f}"
    return f"{text} ({effect.verdict})", effect.verdict


def tooltip(headline: str) -> str:
    """The table's tooltip, naming the drop's figure and unit."""
    unit = "in percentage points" if is_fraction(headline) else "in its own units"
    none = "+0.0 pts" if is_fraction(headline) else "+0.000"
    return (f"Drop: baseline {headline_label(headline)} minus the run's, {unit} (higher: more lost). "
            f"Interaction: the stack against the no-interaction prediction (1.00x / {none}: none). "
            "Order: A \u2192 B against B \u2192 A.")


class InteractionTable(QTableWidget):
    """``show_pairs(report.interaction)``; ``rows_text()`` gives what each row says (first column)."""

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.headline = "accuracy"  # the figure whose drop the last column reads (the study task's headline)
        self.set_headline("accuracy")
        self.pairs: list = []
        self.show_pairs([])

    def set_headline(self, headline: str) -> None:
        """Name the last column and the tooltip after ``headline`` (``accuracy``, ``entity_f1``...)."""
        self.headline = headline
        self.setHorizontalHeaderLabels((*COLUMNS[:-1], drop_label(headline)))
        self.setToolTip(tooltip(headline))

    def rows_text(self) -> list[str]:
        return [self.item(r, 0).text() if self.item(r, 0) else "" for r in range(self.rowCount())]

    def verdicts(self) -> list[str]:
        """Every verdict shown (``inside the noise``, ``measurable``, ``spread unknown``)."""
        out = []
        for r in range(self.rowCount()):
            for c in range(1, self.columnCount()):
                item = self.item(r, c)
                if item is not None and item.data(Qt.ItemDataRole.UserRole):
                    out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def show_pairs(self, pairs: list, reasons: dict[tuple[str, str], str] | None = None,
                   headline: str | None = None) -> None:
        """``reasons[(first, second)]``: why the trial of that order has no figures (the trials table's note);
        ``headline``: the study task's headline figure (by default the pairs' own, else the last one shown)."""
        self.pairs = list(pairs)
        headline = headline or (self.pairs[0].headline if self.pairs else self.headline)
        if headline != self.headline:
            self.set_headline(headline)
        drop = lambda m: _drop(m, self.headline)  # noqa: E731
        reasons = reasons or {}
        self.clearSpans()
        self.setRowCount(0)
        if not self.pairs:
            self._row([EMPTY], header=False)
            self.setSpan(0, 0, 1, len(COLUMNS))
            return
        for pair in self.pairs:
            # Rows say A and B; the pair's header names them (method titles are long, the figures need the width).
            row = self._row([f"A = {pair.a},  B = {pair.b}"], header=True)
            self.item(row, 0).setToolTip(f"A: {pair.a}\nB: {pair.b}")
            self._row(["A alone", _ratio(pair.alone_a.speedup), _ratio(pair.alone_a.size_ratio),
                       drop(pair.alone_a.drop)])
            self._row(["B alone", _ratio(pair.alone_b.speedup), _ratio(pair.alone_b.size_ratio),
                       drop(pair.alone_b.drop)])
            for name, stacked, order in (("A \u2192 B", pair.ab, (pair.a, pair.b)),
                                         ("B \u2192 A", pair.ba, (pair.b, pair.a))):
                if stacked is None:
                    why = reasons.get(order, "not in this study's plan")
                    row = self._row([name, f"did not run: {why}"])
                    self.setSpan(row, 1, 1, len(COLUMNS) - 1)  # the reason takes the figures' width
                    self.item(row, 1).setToolTip(why)
                    self.item(row, 1).setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
                else:
                    self._row([name, _ratio(stacked.speedup), _ratio(stacked.size_ratio), drop(stacked.drop)])
            self._row(["No interaction predicts", _ratio(pair.null_speedup), _ratio(pair.null_size_ratio),
                       drop(pair.null_drop)], italic=True)
            for name, stacked in (("A \u2192 B against the prediction", pair.ab),
                                  ("B \u2192 A against the prediction", pair.ba)):
                if stacked is not None:
                    self._effects(name, pair.speed_interaction(stacked), pair.size_interaction(stacked),
                                  pair.drop_interaction(stacked))
            if pair.ab is not None and pair.ba is not None:
                self._effects("Order: A \u2192 B against B \u2192 A", pair.order_speed(), pair.order_size(),
                              pair.order_drop())

    def _effects(self, name: str, speed: Effect | None, size: Effect | None, drop: Effect | None) -> None:
        cells = [_effect(speed, True), _effect(size, True), _effect(drop, False, self.headline)]
        row = self._row([name] + [text for text, _ in cells])
        for col, (_, verdict) in enumerate(cells, start=1):
            item = self.item(row, col)
            item.setData(Qt.ItemDataRole.UserRole, verdict)
            item.setForeground(QBrush(QColor(VERDICT_COLOURS.get(verdict, "#92400e"))))

    def _row(self, cells: list[str], header: bool = False, italic: bool = False) -> int:
        row = self.rowCount()
        self.insertRow(row)
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if header or italic:
                font = item.font()
                font.setBold(header)
                font.setItalic(italic)
                item.setFont(font)
            if header:
                item.setBackground(QBrush(QColor(HEADER_BG)))
            self.setItem(row, col, item)
        if header:
            self.setSpan(row, 0, 1, len(COLUMNS))
        return row


def order_reasons(report) -> dict[tuple[str, str], str]:
    """Why each two-step order without figures has none, keyed by its steps' titles (as the pairs name them).

    The reason is the one the trials table shows: the trial's note (a refusal, an error), else its status.
    """
    spec = report.spec
    labels = {n: spec.recipe.steps[n - 1].title() for n in getattr(spec, "order_steps", ()) or ()}
    out: dict[tuple[str, str], str] = {}
    for t in report.trials:
        order = tuple(t.params.get("order", ()))
        if len(order) != 2 or not all(n in labels for n in order) or (t.status == "finished" and t.figures):
            continue
        out[(labels[order[0]], labels[order[1]])] = t.note or f"the trial {t.status}"
    return out
