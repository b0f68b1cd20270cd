"""Heat map of the attention-head mask (layers x heads) from :class:`~core.events.MaskUpdate` events."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class MaskHeatmap(QWidget):
    """Shows the latest ``heads`` mask (viridis: dark cells are removed heads, yellow ones kept)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel("Head mask: appears when a step prunes attention heads.")
        self.caption.setObjectName("hint")
        self.caption.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "head")
        item.setLabel("left", "layer")
        item.invertY(True)
        item.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        item.addItem(self.image)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot, 1)
        self.plot.hide()  # empty axes say nothing; the caption explains until a mask arrives
        self.mask: np.ndarray | None = None

    def on_mask(self, event) -> None:
        if event.kind != "heads":
            return
        rows = [list(r) for r in event.mask]
        width = max((len(r) for r in rows), default=0)
        # Layers may keep different numbers of heads; pad with NaN so ragged rows still draw.
        mask = np.full((len(rows), width), np.nan)
        for i, row in enumerate(rows):
            mask[i, : len(row)] = row
        self.mask = mask
        self.image.setImage(np.nan_to_num(mask, nan=0.0), levels=(0.0, 1.0))
        self.image.setRect(QRectF(-0.5, -0.5, mask.shape[1], mask.shape[0]))  # cells centred on their index
        self.plot.show()
        finite = mask[~np.isnan(mask)]
        if np.isin(finite, (0.0, 1.0)).all():
            kept = int(finite.sum())
            self.caption.setText(f"Head mask after step {event.index + 1}: {kept} of {finite.size} heads kept "
                                 "(dark = removed)")
        else:  # a sensitivity step sends scaled importance instead of a keep/remove mask
            self.caption.setText(f"Head importance from step {event.index + 1} (scaled per layer; dark = least "
                                 "important)")
