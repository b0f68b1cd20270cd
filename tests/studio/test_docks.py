"""Issue 23, the docks: the tab the user had in front comes back after the Study tab, and at 1280 x 800 every dock
tab's title is drawn whole (before: "Head m…", "Predicti…")."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QApplication, QTabBar

FREE = QRect(0, 24, 1280, 776)  # a 1280 x 800 screen less a 24 px top panel


@pytest.fixture
def laptop(monkeypatch):
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(FREE))


def _settle(qtbot) -> None:
    QApplication.processEvents()
    qtbot.wait(30)


def _dock_tab_bars(window) -> list[QTabBar]:
    """The tab bars QMainWindow draws under its groups of tabbed docks (not the central page's tabs)."""
    return [b for b in window.findChildren(QTabBar) if b.parent() is window and b.isVisible() and b.count()]


def _in_front(window) -> str:
    """The title of the tab in front in the Log's group, read from the bar the user sees."""
    bar = next(b for b in _dock_tab_bars(window) if "Log" in [b.tabText(i) for i in range(b.count())])
    return bar.tabText(bar.currentIndex())


def _predictions_dock(window):
    return window.dockWidget_for(window.predictions)


def test_the_log_is_in_front_again_after_the_study_tab(qtbot, window):
    qtbot.waitExposed(window)
    assert _in_front(window) == "Log"
    window.open_study()
    _settle(qtbot)
    window.main_tabs.setCurrentIndex(0)
    _settle(qtbot)
    assert _in_front(window) == "Log"  # before: "Head mask"
    assert not window.log_dock.visibleRegion().isEmpty()
    assert window.head_mask_dock.visibleRegion().isEmpty()


def test_the_users_own_choice_of_tab_is_kept_across_the_study_and_saved_runs(qtbot, window):
    qtbot.waitExposed(window)
    _predictions_dock(window).raise_()  # what a click on the Predictions tab does
    _settle(qtbot)
    assert _in_front(window) == "Predictions"
    window.open_study()
    _settle(qtbot)
    window.main_tabs.setCurrentWidget(window.browser)  # from the study straight to the saved runs
    _settle(qtbot)
    assert _in_front(window) == "Predictions"
    window.main_tabs.setCurrentIndex(0)
    _settle(qtbot)
    assert _in_front(window) == "Predictions"
    window.head_mask_dock.raise_()  # a new choice, kept the same way
    _settle(qtbot)
    window.open_study()
    _settle(qtbot)
    window.main_tabs.setCurrentIndex(0)
    _settle(qtbot)
    assert _in_front(window) == "Head mask"
    assert not window.head_mask_dock.visibleRegion().isEmpty()


def _cut_titles(window) -> list[str]:
    """Dock tabs whose title is not drawn whole: the tab is narrower than the one its full text asks for."""
    cut = []
    for bar in _dock_tab_bars(window):
        for i in range(bar.count()):
            text, width = bar.tabText(i), bar.tabRect(i).width()
            # The style's padding is what the first tab adds to its text; every tab gets the same.
            needed = max(bar.tabSizeHint(i).width(), bar.fontMetrics().horizontalAdvance(text))
            if width < needed:
                cut.append(f"{text} ({width} < {needed} px)")
    return cut


def test_every_dock_tab_title_is_whole_at_1280_by_800(qtbot, laptop, tmp_path, db_url, dialogs, worker_engine):
    from studio.main_window import MainWindow
    from studio.settings import StudioSettings

    window = MainWindow(settings=StudioSettings(str(tmp_path / "studio.ini")), engine=worker_engine)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        _settle(qtbot)
        assert FREE.contains(window.geometry()), window.geometry()  # the window still fits the screen
        assert _dock_tab_bars(window), "the Log, Head mask and Predictions docks are tabbed"
        assert _cut_titles(window) == []  # before: Head mask (83 < 92 px), Predictions (81 < 90 px)
        for bar in _dock_tab_bars(window):  # and the full name is a tooltip away
            assert [bar.tabToolTip(i) for i in range(bar.count())] == [bar.tabText(i) for i in range(bar.count())]
        window.open_study()
        _settle(qtbot)
        window.main_tabs.setCurrentIndex(0)
        _settle(qtbot)
        assert _cut_titles(window) == []
        assert FREE.contains(window.geometry()), window.geometry()
        assert window.form.width() >= 260, window.form.width()  # the step form keeps its readable width
    finally:
        window.controller.shutdown(30)
        window.store.close()


def test_the_docks_keep_their_sizes_across_the_study_tab(qtbot, laptop, window):
    qtbot.waitExposed(window)
    _settle(qtbot)
    docks = [window.dockWidget_for(w) for w in (window.data_panel, window.palette, window.dashboard, window.log)]
    before = [d.size() for d in docks]
    window.open_study()
    _settle(qtbot)
    window.main_tabs.setCurrentIndex(0)
    _settle(qtbot)
    assert [d.size() for d in docks] == before


def test_from_the_study_to_the_saved_runs_the_run_column_keeps_its_place(qtbot, laptop, window):
    qtbot.waitExposed(window)
    _settle(qtbot)
    width = window.width()
    right = [window.dockWidget_for(window.dashboard), window.log_dock]
    docks = [window.dockWidget_for(w) for w in (window.data_panel, window.palette)] + right
    before = [d.size() for d in docks]
    window.open_study()
    _settle(qtbot)
    window.main_tabs.setCurrentWidget(window.browser)
    _settle(qtbot)
    assert window.width() == width  # before: the editing docks restored beside the saved runs widened the window
    assert [d.size() for d in right] == before[2:]
    assert _in_front(window) == "Log"
    window.main_tabs.setCurrentIndex(0)
    _settle(qtbot)
    assert window.width() == width and [d.size() for d in docks] == before
