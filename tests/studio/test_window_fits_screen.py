"""The main window opens inside the screen's free area, however small the screen; a saved geometry still wins."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QScreen

from studio.window_layout import PREFERRED_SIZE, initial_geometry


def test_initial_geometry_shrinks_to_the_free_area_and_keeps_the_title_bar_on_screen():
    laptop = QRect(0, 0, 1280, 800)
    frame = initial_geometry(laptop, QSize(1076, 595))
    assert laptop.contains(frame) and frame.size() == QSize(1216, 760)
    assert frame.top() + 32 + frame.height() <= laptop.bottom() + 1  # the frame's title bar fits above it
    # A big screen gets the preferred size, centred; a panel at the top (free area starting lower) is respected.
    assert initial_geometry(QRect(0, 0, 2560, 1400)).size() == PREFERRED_SIZE
    assert initial_geometry(QRect(0, 0, 2560, 1400)).center().x() in (1279, 1280)
    assert initial_geometry(QRect(0, 40, 1280, 760)).top() >= 40
    # Below the window's own minimum it cannot shrink: it keeps the minimum (Qt would enforce it anyway).
    assert initial_geometry(QRect(0, 0, 800, 600), QSize(1076, 595)).width() == 1076


def test_a_new_window_fits_a_1280_by_800_screen(qtbot, tmp_path, monkeypatch, db_url):
    from studio.main_window import MainWindow
    from studio.settings import StudioSettings

    free = QRect(0, 24, 1280, 776)  # a 1280 x 800 screen less a 24 px top panel
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(free))
    window = MainWindow(settings=StudioSettings(str(tmp_path / "studio.ini")))
    qtbot.addWidget(window)
    try:
        assert free.contains(window.geometry()), window.geometry()
        assert window.width() < PREFERRED_SIZE.width() and window.height() < PREFERRED_SIZE.height()
        # The fine-tune step's form is wide enough to read: every field fits across, no horizontal scrolling
        # (before: the stack's buttons and the model panel's long labels left it about 140 px and cut fields).
        window.show()
        qtbot.waitExposed(window)
        window.stack.list.setCurrentRow(0)
        qtbot.waitUntil(lambda: bool(window.form.editors))
        assert window.form.width() >= 260, window.form.width()
        assert not window.form.scroll.horizontalScrollBar().isVisible()
        viewport = window.form.scroll.viewport()
        for name, editor in window.form.editors.items():
            right = editor.mapTo(viewport, editor.rect().topRight()).x()
            assert right <= viewport.width(), f"{name} is cut at the right edge"
        # A geometry the user left last time still replaces the fitted one.
        window.resize(1100, 640)
        window.settings.save_window(window.saveGeometry(), window.saveState())
        again = MainWindow(settings=window.settings, store=window.store)
        qtbot.addWidget(again)
        assert again.height() == 640
        again.controller.shutdown()
    finally:
        window.controller.shutdown()
        window.store.close()
