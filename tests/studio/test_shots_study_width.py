"""Issue 23 part 3: the screenshot of the Study view, taken after the comparison, showed the window wider than the
1280 px screen (its right edge cut): opening the Study tab from the Saved runs widened the window by itself."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QScreen

FREE = QRect(0, 0, 1280, 800)  # the screenshots' screen


@pytest.fixture
def laptop(monkeypatch):
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(FREE))


def test_opening_the_study_from_the_saved_runs_keeps_the_window_on_the_screen(qtbot, laptop, tmp_path, db_url,
                                                                                dialogs):
    from studio.main_window import MainWindow
    from studio.settings import StudioSettings

    window = MainWindow(settings=StudioSettings(str(tmp_path / "studio.ini")))
    qtbot.addWidget(window)
    window.setGeometry(FREE)
    window.show()
    qtbot.waitExposed(window)
    try:
        width = window.width()
        assert width <= FREE.width()
        window.main_tabs.setCurrentWidget(window.browser)
        qtbot.wait(50)
        window.open_study()
        qtbot.wait(50)
        assert window.width() == width  # before: 1280 -> 1288 px, the study's right edge past the screen
        assert window.main_tabs.geometry().right() < FREE.width()
    finally:
        window.controller.shutdown(30)
        window.store.close()
