"""The window's layout: the central tabs and splitters, the docks around them, and their saved state.

A mixin of :class:`~studio.main_window.MainWindow`; it places the widgets the
window created, fits the window to its screen, and wires only what a dock shows
beyond the run signals of ``window_runs`` (importance in the head mask dock).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDockWidget, QLabel, QScrollArea, QSplitter, QTabBar, QTabWidget, QVBoxLayout,
                               QWidget)
from shiboken6 import getCppPointer

PREFERRED_SIZE = QSize(1380, 860)  # the size the docks and the step form were laid out for
SCREEN_SHARE = 0.95  # of the screen's free area, at most: the rest is for the window frame and the desktop's edges
RUN_COLUMN_MIN = 210  # px: the Run and Log column, narrowed to this on small screens (its texts wrap)
TITLE_BAR = 32  # px a window manager usually adds above the client area (unknown until the window is shown)


def initial_geometry(available: QRect, minimum: QSize = QSize(0, 0)) -> QRect:
    """Where a first-time window goes on a screen whose free area (less task bars) is ``available``.

    The preferred size, shrunk to 95 % of the free area (a 1280 x 800 screen cut the 1380 x 860 window off),
    never below ``minimum`` (the window's own minimum: Qt would not go under it anyway), centred across and
    placed so the title bar above it stays on the screen.
    """
    width = max(minimum.width(), min(PREFERRED_SIZE.width(), int(available.width() * SCREEN_SHARE)))
    height = max(minimum.height(), min(PREFERRED_SIZE.height(), int(available.height() * SCREEN_SHARE)))
    x = available.left() + max(0, (available.width() - width) // 2)
    y = available.top() + max(0, (available.height() - height - TITLE_BAR) // 2)
    return QRect(x, y, width, height)


class CurrentPageTabs(QTabWidget):
    """Tabs whose minimum size is the page shown, not the largest page.

    A QTabWidget is at least as wide as its widest page, shown or not: after the Study tab (laid out for the
    whole window, the docks hidden) had been opened, going back to the recipe page with its docks widened the
    window past a 1280 px screen (1216 -> 1324 px) and cut the Run column off.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.currentChanged.connect(lambda _: self.updateGeometry())

    def minimumSizeHint(self) -> QSize:
        page = self.currentWidget()
        if page is None:
            return super().minimumSizeHint()
        shown = page.minimumSizeHint().expandedTo(page.minimumSize())
        bar = self.tabBar().minimumSizeHint()
        return QSize(max(shown.width(), bar.width()), shown.height() + bar.height())


class WindowLayoutMixin:
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_").lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_layout(self) -> None:
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.stack)
        top.addWidget(self.form)
        top.setSizes([340, 460])
        # The recipe's name heads the stack and its form: the name its runs are recorded under.
        named = QWidget()
        named_layout = QVBoxLayout(named)
        named_layout.setContentsMargins(0, 0, 0, 0)
        named_layout.setSpacing(0)
        named_layout.addWidget(self.name_field)
        named_layout.addWidget(self.inputs_note)
        named_layout.addWidget(top, 1)
        bottom = QTabWidget()
        bottom.addTab(self.plots, "Live plots")
        bottom.addTab(self.plots.size_plot, "Model size")
        bottom.addTab(self.queue_panel, "Queue")
        evaluation = QScrollArea()  # ten rows: they scroll rather than push the window past a short screen
        evaluation.setWidgetResizable(True)
        evaluation.setFrameShape(QScrollArea.Shape.NoFrame)
        evaluation.setWidget(self.evaluation_form)
        bottom.addTab(evaluation, "Evaluation")
        self.bottom_tabs = bottom
        # The warnings sit on top of the plots and take their height from them, so showing or hiding a warning never
        # moves the stack's buttons (Up, Down...) from under the pointer.
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        lower_layout.addWidget(self.problems_label)
        lower_layout.addWidget(bottom, 1)
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(named)
        centre.addWidget(lower)
        centre.setStretchFactor(0, 1)
        centre.setStretchFactor(1, 1)
        # The step form gets the taller share: about ten fields without scrolling at 900 px.
        centre.setSizes([440, 380])
        self.centre_split = centre
        self.main_tabs = CurrentPageTabs()
        self.main_tabs.setDocumentMode(True)
        self.main_tabs.addTab(centre, "Recipe and live run")
        self.main_tabs.addTab(self.browser, "Saved runs")
        self.main_tabs.currentChanged.connect(self._main_tab_changed)
        self._hidden_docks: list[QDockWidget] = []
        self.setCentralWidget(self.main_tabs)
        left = self._dock("Model and data", self.data_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        palette = self._dock("Methods", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.splitDockWidget(left, palette, Qt.Orientation.Vertical)
        right = self._dock("Run", self.dashboard, Qt.DockWidgetArea.RightDockWidgetArea)
        log = self._dock("Log", self.log, Qt.DockWidgetArea.RightDockWidgetArea)
        heat = self._dock("Head mask", self.heatmap, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(right, log, Qt.Orientation.Vertical)
        self.tabifyDockWidget(log, heat)  # after the split, or the split undoes the tabs
        self.tabifyDockWidget(heat, self._dock("Predictions", self.predictions, Qt.DockWidgetArea.RightDockWidgetArea))
        log.raise_()
        self.head_mask_dock, self.log_dock = heat, log
        # The dock shows importance too (the mask is wired with the other run signals in window_runs).
        self.controller.bridge.importanceUpdate.connect(self.heatmap.on_importance)
        self.fit_to_screen()  # first, so the docks below are shared out of the real width (a saved geometry wins later)
        self._share_docks()
        self.estimate_label = QLabel("")  # a rough time for the stack before it runs (see update_estimate)
        self.estimate_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.estimate_label)
        self.database_label = QLabel("")
        self.database_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.database_label)

    def _share_docks(self) -> None:
        """Share the window's width and height out among the docks as a first start does."""
        left, palette = self.dockWidget_for(self.data_panel), self.dockWidget_for(self.palette)
        right, log = self.dockWidget_for(self.dashboard), self.log_dock
        # The palette lists every family: give it the taller share of the left column.
        self.resizeDocks([left, palette], [360, 470], Qt.Orientation.Vertical)
        self.resizeDocks([right, log], [400, 430], Qt.Orientation.Vertical)
        # A window narrower than preferred takes the width from the Run column before the recipe page: the step
        # form sits in the middle and is the first to become unusable.
        narrower = max(0, PREFERRED_SIZE.width() - self.width())
        # Never narrower than the tabs under the Log need, or their titles are cut ("Head m…", "Predicti…" at 1280 px).
        run_width = max(RUN_COLUMN_MIN, 290 - narrower, self._dock_tabs_width(Qt.DockWidgetArea.RightDockWidgetArea))
        self.resizeDocks([left, right], [400, run_width], Qt.Orientation.Horizontal)

    def _dock_tabs_width(self, area: Qt.DockWidgetArea) -> int:
        """The width the widest row of dock tabs in ``area`` needs for every title whole (the font's own measure)."""
        docks = {getCppPointer(d)[0]: d for d in self.findChildren(QDockWidget)}
        widths = [sum(bar.tabSizeHint(i).width() for i in range(bar.count())) for bar in self.dock_tab_bars()
                  if any(self.dockWidgetArea(docks[bar.tabData(i)]) == area
                         for i in range(bar.count()) if bar.tabData(i) in docks)]
        return max(widths, default=0)

    def _main_tab_changed(self, index: int) -> None:
        # The model, data and methods docks serve the recipe page: the saved runs take their width. The Run, Log and
        # Head mask docks stay, so a run can be followed from the saved runs, and the log keeps its place and tab.
        if self.main_tabs.widget(index) is self.browser:
            editing = (self.dockWidget_for(self.data_panel), self.dockWidget_for(self.palette))
            self._hidden_docks = [d for d in editing if d is not None and d.isVisible()]
            for dock in self._hidden_docks:
                dock.hide()
        else:
            for dock in self._hidden_docks:
                dock.show()
            self._hidden_docks = []

    def dock_tab_bars(self) -> list[QTabBar]:
        """The tab bars under this window's groups of tabbed docks (Log / Head mask / Predictions), in use now."""
        # QMainWindow keeps the bars of groups that were taken apart hidden for reuse: only those it shows count.
        return [b for b in self.findChildren(QTabBar) if b.parent() is self and b.count() and b.isVisibleTo(self)]

    def _dock_tab_bar(self, dock: QDockWidget) -> QTabBar | None:
        """The tab bar under ``dock``'s group of tabbed docks (None for a dock alone)."""
        # Each tab's data is the address of its dock (QDockAreaLayoutInfo::updateTabBar).
        address = getCppPointer(dock)[0]
        return next((b for b in self.dock_tab_bars() if address in [b.tabData(i) for i in range(b.count())]), None)

    def raised_docks(self) -> list[QDockWidget]:
        """The dock in front in each group of tabbed docks (the one whose tab is current)."""
        docks = {getCppPointer(d)[0]: d for d in self.findChildren(QDockWidget)}
        raised = (docks.get(bar.tabData(bar.currentIndex())) for bar in self.dock_tab_bars())
        return [d for d in raised if d is not None]

    def dock_sizes(self) -> dict[QDockWidget, QSize]:
        """The place each dock shown takes (a tab group's with its tab bar), to give back with :meth:`restore_docks`."""
        sizes = {}
        for dock in self.findChildren(QDockWidget):
            if dock.isVisible() and not dock.isFloating():
                bar = self._dock_tab_bar(dock)
                sizes[dock] = (dock.geometry() if bar is None else dock.geometry().united(bar.geometry())).size()
        return sizes

    def restore_docks(self, front: list[QDockWidget], sizes: dict[QDockWidget, QSize]) -> None:
        """Bring ``front`` (from :meth:`raised_docks`) to the front of their tab groups and the docks shown back to
        ``sizes`` (from :meth:`dock_sizes`), as far as the window allows."""
        for dock in front:
            if dock.isVisibleTo(self) and self.tabifiedDockWidgets(dock):
                dock.raise_()
        # A tab group is sized once, through the dock in front (resizeDocks sizes the group, tab bar included).
        shown = [d for d in sizes if d.isVisibleTo(self) and (d in front or not self.tabifiedDockWidgets(d))]
        for orientation, measure in ((Qt.Orientation.Horizontal, QSize.width), (Qt.Orientation.Vertical, QSize.height)):
            if shown:
                self.resizeDocks(shown, [measure(sizes[d]) for d in shown], orientation)

    def dockWidget_for(self, widget: QWidget) -> QDockWidget | None:
        """The dock that holds ``widget``."""
        return next((d for d in self.findChildren(QDockWidget) if d.widget() is widget), None)

    def fit_to_screen(self, available: QRect | None = None) -> None:
        """Size and place the window for the free area of its screen (``available``, or the screen's own)."""
        if available is None:
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is None:  # no screen at all (nothing to fit): the preferred size
                self.resize(PREFERRED_SIZE)
                return
            available = screen.availableGeometry()
        frame = initial_geometry(available, self.minimumSizeHint())
        self.resize(frame.size())
        self.move(frame.topLeft())  # move() places the frame, title bar included

    def _available(self) -> QRect | None:
        screen = self.screen() or QGuiApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else None

    def _restore_window(self) -> None:
        """Restore the geometry and docks left last time, each only if it fits this screen (see :meth:`layout_fits`).

        A window that once grew past the screen left a layout with the Run column squeezed to about 120 px, which
        was restored at every start; now such a layout gives way to the first-start one.
        """
        geometry, state = self.settings.geometry(), self.settings.window_state()
        fitted, default_state = self.geometry(), self.saveState()
        if geometry is not None:
            self.restoreGeometry(geometry)  # Qt itself shrinks and moves a geometry saved on a larger screen
            available = self._available()
            if available is not None and (self.width() > available.width() or self.height() > available.height()):
                self.setGeometry(fitted)
        self._first_start_state = default_state
        if state is not None:
            self.restoreState(state)
        self._check_restored_layout = state is not None

    def layout_fits(self) -> bool:
        """Whether the window lies within its screen's free area and the Run column keeps its readable width."""
        available = self._available()
        if available is not None and (self.width() > available.width() or self.height() > available.height()):
            return False
        run = self.dockWidget_for(self.dashboard)
        return run is None or not run.isVisible() or run.isFloating() or run.width() >= RUN_COLUMN_MIN - 10

    def showEvent(self, event) -> None:
        super().showEvent(event)
        # The docks have their sizes only once the window is laid out for showing: check a restored layout then.
        if getattr(self, "_check_restored_layout", False):
            self._check_restored_layout = False
            if not self.layout_fits():
                self.restoreState(self._first_start_state)
                self.fit_to_screen()
                self._share_docks()
