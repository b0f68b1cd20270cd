"""Heat map of the attention heads (layers x heads): the keep/remove mask of a pruning step
(:class:`~core.events.MaskUpdate`) or the importance scores of a sensitivity step
(:class:`~core.events.ImportanceUpdate`). The event's type says which; nothing is read from the values."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core import events as ev
from studio.widgets.head_grid import as_grid, head_grid_plot, show_grid


IDLE_CAPTION = "Head mask: appears when a step prunes attention heads."


class MaskHeatmap(QWidget):
    """Shows the latest ``heads`` mask (viridis: dark cells are removed heads, yellow ones kept) or importance
    (dark: least important), whichever came last."""

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

    def on_mask(self, event: ev.MaskUpdate) -> None:
        if event.kind != "heads":
            return
        mask = self._draw(event.mask, (0.0, 1.0))
        finite = mask[~np.isnan(mask)]
        kept = int(finite.sum())
        self.caption.setText(f"Head mask after step {event.index + 1}: {kept} of {finite.size} heads kept "
                             "(dark = removed)")

    def on_importance(self, event: ev.ImportanceUpdate) -> None:
        if event.kind != "heads":
            return
        levels = event.levels
        if levels is None:  # unscaled scores: their own range
            finite = [v for row in event.scores for v in row if v == v]
            levels = (min(finite), max(finite)) if finite else (0.0, 1.0)
        self._draw(event.scores, levels)
        metric = event.metric.replace("_", " ")
        self.caption.setText(f"Head importance ({metric}) from step {event.index + 1}, {event.scale}; "
                             "dark = least important, nothing removed")

    def _draw(self, rows, levels: tuple[float, float]) -> np.ndarray:
        # Layers may keep different numbers of heads; ragged rows are padded with NaN.
        grid = as_grid([list(r) for r in rows])
        low, high = levels
        self.mask = grid
        show_grid(self.image, grid, (low, high if high > low else low + 1e-12), fill=low)
        self.plot.show()
        return grid
