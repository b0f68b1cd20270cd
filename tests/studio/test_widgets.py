"""Widgets on their own: drag and drop into the stack, plot buffers, head-mask heat map, inspector, About."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent

from core import events as ev
from studio.widgets.live_plots import LivePlots, SeriesBuffer, plot_for_key
from studio.widgets.mask_heatmap import MaskHeatmap
from studio.widgets.method_palette import METHOD_MIME, MethodPalette
from studio.widgets.stack_editor import StackEditor


def test_dropping_a_palette_method_inserts_it_where_dropped(qtbot):
    stack = StackEditor()
    qtbot.addWidget(stack)
    stack.show()
    stack.add_method("finetune")
    stack.add_method("evaluate")
    palette = MethodPalette()
    qtbot.addWidget(palette)
    item = next(palette.tree.topLevelItem(i).child(j) for i in range(palette.tree.topLevelItemCount())
                for j in range(palette.tree.topLevelItem(i).childCount())
                if palette.tree.topLevelItem(i).child(j).data(0, Qt.ItemDataRole.UserRole) == "prune.magnitude")
    mime = palette.tree.mimeData([item])
    assert bytes(mime.data(METHOD_MIME)).decode() == "prune.magnitude"
    target = stack.list.visualItemRect(stack.list.item(1)).center()
    event = QDropEvent(QPointF(target), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(stack.stackChanged):
        stack.list.dropEvent(event)
    assert [s.method for s in stack.steps()] == ["finetune", "prune.magnitude", "evaluate"]
    # Dropped below the last item: appended.
    empty = QMimeData()
    empty.setData(METHOD_MIME, b"evaluate")
    below = QDropEvent(QPointF(QPoint(5, stack.list.height() - 3)), Qt.DropAction.CopyAction, empty,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    stack.list.dropEvent(below)
    assert [s.method for s in stack.steps()][-1] == "evaluate" and len(stack.steps()) == 4


def test_series_buffer_grows_by_doubling_and_keeps_points():
    buf = SeriesBuffer(capacity=4)
    for i in range(9):
        buf.append(i, i * i)
    assert buf.n == 9 and len(buf.data) == 16
    assert np.array_equal(buf.x, np.arange(9)) and np.array_equal(buf.y, np.arange(9) ** 2)


def test_live_plots_route_keys_and_redraw_on_the_timer(qtbot):
    plots = LivePlots()
    qtbot.addWidget(plots)
    assert plot_for_key("train/loss") == "loss" and plot_for_key("val/accuracy") == "accuracy"
    assert plot_for_key("final/accuracy") is None and plot_for_key("model/sparsity") is None
    for step in range(1, 6):
        plots.on_metric(ev.Metric(run_id="r", key="train/loss", value=1.0 / step, step=step))
    assert not plots.add_point("final/accuracy", 5, 0.8)
    assert plots.drawn_count("train/loss") == 0  # nothing drawn until the timer fires
    qtbot.waitUntil(lambda: plots.drawn_count("train/loss") == 5, timeout=1000)
    curve = plots.curves["train/loss"]
    assert curve.opts["downsampleMethod"] == "peak" and curve.opts["clipToView"]
    plots.reset()
    assert plots.point_count("train/loss") == 0 and not plots.curves


def test_head_mask_heatmap_shows_ragged_masks(qtbot):
    heat = MaskHeatmap()
    qtbot.addWidget(heat)
    heat.on_mask(ev.MaskUpdate(run_id="r", index=1, kind="ffn", mask=((1.0, 0.0),)))
    assert heat.mask is None  # only head masks are drawn
    heat.on_mask(ev.MaskUpdate(run_id="r", index=1, kind="heads", mask=((1, 0, 1, 1), (0, 1))))
    assert heat.mask.shape == (2, 4)
    assert "4 of 6 heads kept" in heat.caption.text()
    assert heat.image.image.shape == (2, 4)


def test_model_inspector_lists_layers_and_components(qtbot):
    from core.models.architecture import describe
    from core.models.loading import load_model
    from studio.dialogs.inspector import ModelInspector

    info = describe(load_model("tiny", num_labels=2).model)
    info.update(size_bytes=1234, source="tiny")
    dialog = ModelInspector(info)
    qtbot.addWidget(dialog)
    assert dialog.layers_table.rowCount() == 2
    assert dialog.layers_table.item(0, 1).text() == "4" and dialog.layers_table.item(0, 3).text() == "64"
    counts = [int(dialog.components_table.item(i, 1).text().replace(",", "")) for i in range(dialog.components_table.rowCount())]
    assert sum(counts) == info["parameters"]


def test_about_lists_versions():
    from studio.dialogs.about import about_text, versions

    v = versions()
    assert v["pyqtgraph"] != "not installed" and v["PySide6-Essentials"] != "not installed"
    assert v["pyqtgraph"] in about_text()
