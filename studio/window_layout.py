"""The window's layout: the central tabs and splitters, the docks around them, and their saved state.

A mixin of :class:`~studio.main_window.MainWindow`; it places the widgets the
window created and wires nothing else.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget


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
        bottom = QTabWidget()
        bottom.addTab(self.plots, "Live plots")
        bottom.addTab(self.plots.size_plot, "Model size")
        bottom.addTab(self.queue_panel, "Queue")
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
        centre.addWidget(top)
        centre.addWidget(lower)
        centre.setStretchFactor(0, 1)
        centre.setStretchFactor(1, 1)
        # The step form gets the taller share: about ten fields without scrolling at 900 px.
        centre.setSizes([440, 380])
        self.centre_split = centre
        self.main_tabs = QTabWidget()
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
        log.raise_()
        self.head_mask_dock, self.log_dock = heat, log
        # The palette lists every family: give it the taller share of the left column.
        self.resizeDocks([left, palette], [360, 470], Qt.Orientation.Vertical)
        self.resizeDocks([right, log], [400, 430], Qt.Orientation.Vertical)
        self.resizeDocks([left, right], [440, 290], Qt.Orientation.Horizontal)
        self.estimate_label = QLabel("")  # a rough time for the stack before it runs (see update_estimate)
        self.estimate_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.estimate_label)
        self.database_label = QLabel("")
        self.database_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.database_label)
        self.resize(1380, 860)

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

    def dockWidget_for(self, widget: QWidget) -> QDockWidget | None:
        """The dock that holds ``widget``."""
        return next((d for d in self.findChildren(QDockWidget) if d.widget() is widget), None)

    def _restore_window(self) -> None:
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
