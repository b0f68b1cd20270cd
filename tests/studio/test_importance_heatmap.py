"""The head heat map says "mask" or "importance" from the event's type, never from its values."""

from __future__ import annotations

from core import events as ev
from studio.widgets.mask_heatmap import MaskHeatmap
from tests.studio.conftest import shown


def _scores(rows, levels=(0.0, 1.0)):
    return ev.ImportanceUpdate("r", index=1, kind="heads", scores=rows, metric="accuracy_drop",
                               scale="scaled to the largest", levels=levels)


def test_the_caption_follows_the_event_type_even_when_the_values_look_like_the_other(qtbot):
    heat = shown(qtbot, MaskHeatmap(), 320, 320)
    # Scores that happen to be exactly 0 and 1 are still importance: nothing was removed.
    heat.on_importance(_scores(((1.0, 0.0), (0.0, 1.0))))
    text = heat.caption.text()
    assert heat.plot.isVisible() and "importance (accuracy drop) from step 2" in text and "nothing removed" in text
    assert "kept" not in text and "scaled to the largest" in text
    assert heat.image.levels is not None and list(heat.image.levels) == [0.0, 1.0]
    heat.on_mask(ev.MaskUpdate("r", index=2, kind="heads", mask=((1.0, 0.0), (1.0, 1.0))))
    assert heat.caption.text().startswith("Head mask after step 3: 3 of 4 heads kept")
    # Unscaled scores are drawn over their own range.
    heat.on_importance(_scores(((0.5, 2.0), (1.0, 4.0)), levels=None))
    assert list(heat.image.levels) == [0.5, 4.0] and "importance" in heat.caption.text()
    # Other structures are not drawn here.
    heat.on_importance(ev.ImportanceUpdate("r", index=3, kind="layers", scores=((0.1, 0.9),), metric="gradient"))
    assert heat.mask.shape == (2, 2)


def test_the_window_shows_importance_that_arrives_on_the_run_bus(qtbot, window):
    bus = window.controller.engine.bus
    bridge = window.controller.bridge
    with qtbot.waitSignal(bridge.importanceUpdate, timeout=5000):
        bus.publish(_scores(((0.2, 1.0), (0.6, 0.0))))
    assert "Head importance" in window.heatmap.caption.text() and window.heatmap.mask.shape == (2, 2)
    with qtbot.waitSignal(bridge.maskUpdate, timeout=5000):
        bus.publish(ev.MaskUpdate("r", index=2, kind="heads", mask=((1.0, 0.0), (0.0, 1.0))))
    assert "2 of 4 heads kept" in window.heatmap.caption.text()
