"""The cells of the saved-runs table (:mod:`studio.widgets.runs_list`): figure text and value-wise sorting."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidgetItem

from core.metrics import figures as fig
from studio.compare import TOO_SMALL, UNRELIABLE_MARK

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the number (or text) a column sorts by


def cell_text(results: dict, key: str, kind: str) -> str:
    value = results.get(key)
    if value is None or value != value:  # missing or NaN
        return TOO_SMALL if key == "speedup" and results.get("speed_note") else ""
    if kind == "mb":
        return f"{value / 1e6:.1f} MB"
    text = f"{value:.2f}x"
    if key == "speedup" and fig.unreliable(results, "speedup"):
        text += " " + UNRELIABLE_MARK  # as `bert-studio runs` marks it: a wide interval, not a fact
    return text


class Item(QTableWidgetItem):
    """A cell that sorts by its :data:`SORT_ROLE` value: numbers as numbers, blanks (None) last either way."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        if a is None or b is None:  # blanks sort last in either order
            descending = getattr(self.tableWidget(), "descending", False)
            return (a is None and b is not None) if descending else (a is not None and b is None)
        return str(a).lower() < str(b).lower()
