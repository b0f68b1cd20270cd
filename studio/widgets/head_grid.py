"""The layers x heads grid both head heat maps draw (the live mask and the sensitivity importance)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF


def as_grid(rows: list[list[float]]) -> np.ndarray:
    """Ragged rows (layers keep different head counts) as a NaN-padded 2-D array."""
    width = max((len(r) for r in rows), default=0)
    grid = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        grid[i, : len(row)] = row
    return grid


def head_grid_plot() -> tuple[pg.PlotWidget, pg.ImageItem]:
    """A white plot with head / layer axes (layer 0 on top) holding a viridis image."""
    plot = pg.PlotWidget(background="w")
    item = plot.getPlotItem()
    item.setLabel("bottom", "head")
    item.setLabel("left", "layer")
    item.invertY(True)
    image = pg.ImageItem(axisOrder="row-major")
    image.setColorMap(pg.colormap.get("viridis"))
    item.addItem(image)
    return plot, image


def show_grid(image: pg.ImageItem, grid: np.ndarray, levels: tuple[float, float], fill: float) -> None:
    image.setImage(np.nan_to_num(grid, nan=fill), levels=levels)
    image.setRect(QRectF(-0.5, -0.5, grid.shape[1], grid.shape[0]))  # cells centred on their index
