"""Layers x heads importance from a sensitivity analysis, as a heat map with a colour bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.errors import StudioError
from studio.widgets.head_grid import as_grid, head_grid_plot, show_grid


def load_sensitivity(path: str | Path) -> dict:
    """The JSON written by ``analyze.sensitivity`` (``heads``: one list of scores per layer; ``metric``)."""
    from core.errors import RecipeError
    from core.recipe_text import load_document  # the studio's one guarded loader

    try:
        data = load_document(path, "sensitivity results file", "json")
    except RecipeError as exc:
        raise StudioError(f"the sensitivity results at {path} cannot be read: "
                          f"{'; '.join(str(p) for p in exc.problems)}") from None
    heads = data.get("heads") if isinstance(data, dict) else None
    if not isinstance(heads, list) or not all(isinstance(r, list) for r in heads):
        raise StudioError(f"{path} holds no per-layer head scores")
    return data


class ImportanceMap(QWidget):
    """``set_scores`` draws one cell per head; brighter is more important."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel("Head importance appears after a run with a sensitivity-analysis step.")
        self.caption.setObjectName("hint")
        self.caption.setWordWrap(True)
        self.plot, self.image = head_grid_plot()
        item = self.plot.getPlotItem()
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=12)
        self.bar.setImageItem(self.image, insert_in=item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot, 1)
        self.plot.hide()
        self.scores: np.ndarray | None = None

    def set_scores(self, rows: list[list[float]], title: str = "") -> None:
        grid = as_grid(rows)
        self.scores = grid
        finite = grid[np.isfinite(grid)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high <= low:
            high = low + 1e-12
        show_grid(self.image, grid, (low, high), fill=low)
        self.bar.setLevels((low, high))
        self.plot.show()
        self.caption.setText(title or f"Head importance: {grid.shape[0]} layers x {grid.shape[1]} heads")
