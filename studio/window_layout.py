"""The window's layout: the central tabs and splitters, the docks around them, and their saved state.

A mixin of :class:`~studio.main_window.MainWindow`; it places the widgets the
window created and wires nothing else.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QSplitter, QTabWidget, QWidget


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
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.addWidget(top)
        centre.addWidget(self.problems_label)
        centre.addWidget(bottom)
        centre.setStretchFactor(0, 2)
        centre.setStretchFactor(2, 3)
        centre.setSizes([330, 40, 460])
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
        self.database_label = QLabel("")
        self.database_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.database_label)
        self.resize(1380, 860)

    def _main_tab_changed(self, index: int) -> None:
        # The docks serve the recipe page; the saved runs get the whole window and the docks come back after.
        if self.main_tabs.widget(index) is self.browser:
            self._hidden_docks = [d for d in self.findChildren(QDockWidget) if d.isVisible()]
            for dock in self._hidden_docks:
                dock.hide()
        else:
            for dock in self._hidden_docks:
                dock.show()
            self._hidden_docks = []

    def _restore_window(self) -> None:
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
