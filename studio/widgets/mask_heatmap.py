"""Heat map of the attention-head mask (layers x heads) from :class:`~core.events.MaskUpdate` events."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from studio.widgets.head_grid import as_grid, head_grid_plot, show_grid


IDLE_CAPTION = "Head mask: appears when a step prunes attention heads."


class MaskHeatmap(QWidget):
    """Shows the latest ``heads`` mask (viridis: dark cells are removed heads, yellow ones kept)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel(IDLE_CAPTION)
        self.caption.setObjectName("hint")
        self.caption.setWordWrap(True)
        self.plot, self.image = head_grid_plot()
        self.plot.getPlotItem().setAspectLocked(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot, 1)
        self.plot.hide()  # empty axes say nothing; the caption explains until a mask arrives
        self.mask: np.ndarray | None = None

    def reset(self) -> None:
        """A new run: the last run's mask is not this one's (a run without head pruning shows none)."""
        self.mask = None
        self.image.clear()
        self.plot.hide()
        self.caption.setText(IDLE_CAPTION)

    def on_mask(self, event) -> None:
        if event.kind != "heads":
            return
        # Layers may keep different numbers of heads; ragged rows are padded with NaN.
        mask = as_grid([list(r) for r in event.mask])
        self.mask = mask
        show_grid(self.image, mask, (0.0, 1.0), fill=0.0)
        self.plot.show()
        finite = mask[~np.isnan(mask)]
        if np.isin(finite, (0.0, 1.0)).all():
            kept = int(finite.sum())
            self.caption.setText(f"Head mask after step {event.index + 1}: {kept} of {finite.size} heads kept "
                                 "(dark = removed)")
        else:  # a sensitivity step sends scaled importance instead of a keep/remove mask
            self.caption.setText(f"Head importance from step {event.index + 1} (scaled per layer; dark = least "
                                 "important)")
