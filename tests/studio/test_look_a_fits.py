"""Issue 23, item 1.2: the window never grows past the screen, and a saved layout is restored only if it fits."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QScreen

from studio.window_layout import RUN_COLUMN_MIN

FREE = QRect(0, 24, 1280, 776)  # a 1280 x 800 screen less a 24 px top panel


@pytest.fixture
def laptop(monkeypatch):
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(FREE))


def _new_window(qtbot, settings, store=None, engine=None):
    from studio.main_window import MainWindow

    win = MainWindow(settings=settings, store=store, engine=engine)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_the_study_tab_does_not_widen_the_window_past_the_screen(qtbot, laptop, tmp_path, db_url, dialogs,
                                                                 worker_engine):
    from studio.settings import StudioSettings

    window = _new_window(qtbot, StudioSettings(str(tmp_path / "studio.ini")), engine=worker_engine)
    try:
        width = window.width()
        assert width <= FREE.width()
        window.open_study()
        qtbot.wait(50)
        window.main_tabs.setCurrentIndex(0)  # back to the recipe page, its docks shown again
        qtbot.wait(50)
        assert window.minimumSizeHint().width() <= FREE.width(), window.minimumSizeHint()
        assert window.width() == width  # before: 1216 -> 1324 px
        run = window.dockWidget_for(window.dashboard)
        assert run.geometry().right() <= window.width()
    finally:
        window.controller.shutdown(30)
        window.store.close()


def test_a_saved_layout_that_squeezed_the_run_column_is_not_restored(qtbot, laptop, tmp_path, db_url, dialogs):
    from studio.settings import StudioSettings

    settings = StudioSettings(str(tmp_path / "studio.ini"))
    window = _new_window(qtbot, settings)
    run = window.dockWidget_for(window.dashboard)
    assert run.width() >= RUN_COLUMN_MIN - 10  # the first-start layout fits
    window.resizeDocks([run], [110], Qt.Orientation.Horizontal)  # what a window that had widened left behind
    qtbot.waitUntil(lambda: run.width() < RUN_COLUMN_MIN - 10)
    window.settings.save_window(window.saveGeometry(), window.saveState())
    # The docks only: Qt's restoreGeometry clamps to the offscreen platform's own 800 px screen, which the
    # patched free area above does not reach.
    settings.qs.remove("window/geometry")
    window.controller.shutdown()
    again = _new_window(qtbot, settings, store=window.store)
    try:
        again_run = again.dockWidget_for(again.dashboard)
        assert again_run.width() >= RUN_COLUMN_MIN - 10, again_run.width()
        assert again.layout_fits()
    finally:
        again.controller.shutdown()
        window.store.close()


def test_a_saved_layout_that_fits_is_restored(qtbot, laptop, tmp_path, db_url, dialogs):
    from studio.settings import StudioSettings

    settings = StudioSettings(str(tmp_path / "studio.ini"))
    window = _new_window(qtbot, settings)
    run = window.dockWidget_for(window.dashboard)
    window.resizeDocks([run], [300], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: run.width() >= 280)
    window.settings.save_window(window.saveGeometry(), window.saveState())
    # The docks only: Qt's restoreGeometry clamps to the offscreen platform's own 800 px screen, which the
    # patched free area above does not reach.
    settings.qs.remove("window/geometry")
    window.controller.shutdown()
    again = _new_window(qtbot, settings, store=window.store)
    try:
        assert again.dockWidget_for(again.dashboard).width() >= 280
    finally:
        again.controller.shutdown()
        window.store.close()
