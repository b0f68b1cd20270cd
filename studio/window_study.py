"""The window's Study side: the "Study\u2026" action, the Study tab, and what a trial opens.

A mixin of :class:`~studio.main_window.MainWindow`, kept apart so the study needs only two lines of the
window (the base class and the call of :meth:`_build_study`) and one in its ``closeEvent``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget, QToolBar


class WindowStudyMixin:
    study_view = None
    _study_shown = False
    _study_hidden: list = []
    _study_layout = None  # the docks' state (sizes, tabs in front) when the study hid them

    def _build_study(self) -> None:
        """Add Run \u25b8 Study\u2026 and its toolbar button (after the window's own actions exist)."""
        menu = next((a.menu() for a in self.menuBar().actions() if a.menu() is not None and self.run_action in
                     a.menu().actions()), None)
        if menu is not None:
            menu.addSeparator()
        self.study_action = self._action("&Study\u2026", self.open_study, "Ctrl+Alt+S", menu,
                                         "Find the stack: an order and interaction, search or grid study "
                                         "started from the current stack (Ctrl+Alt+S)")
        toolbar = self.findChild(QToolBar, "main_toolbar")
        if toolbar is not None:
            toolbar.addAction(self.study_action)

    def open_study(self):
        """Show the Study tab (created on first use) set up from the current stack; returns the view."""
        from studio.study.study_view import StudyView, study_dock_text

        width = self.width()
        if self.study_view is None:
            self.study_view = StudyView(self.store_url(), self)
            self.study_view.templateRequested.connect(lambda: self.study_view.set_template(self.recipe()))
            self.study_view.openRunRequested.connect(self.show_study_run)
            self.study_view.openRecipeRequested.connect(self.open_run_recipe)
            self.study_view.runsChanged.connect(self.runs.refresh)
            self.study_view.runningChanged.connect(  # the Run dock does not follow trials: it says so
                lambda on: self.controller.running or self.dashboard.status.setText(study_dock_text(on)))
            self.main_tabs.addTab(self.study_view, "Study")
            self.main_tabs.currentChanged.connect(self._study_tab_changed)
        if not self.study_view.running:
            self.study_view.set_database(self.store_url())
            self.study_view.set_template(self.recipe())
        self.main_tabs.setCurrentWidget(self.study_view)
        # From the saved runs, adding the study's page and switching to it left the window a minimum 8 px wider than
        # a 1280 px screen (taken while the docks were still shown): recompute it, and give the width back.
        if self.width() > width:
            self.layout().invalidate()
            self.layout().activate()
            if width >= self.minimumSizeHint().width():
                self.resize(width, self.height())
        return self.study_view

    def show_study_run(self, run_id: str) -> None:
        """A trial's run, selected in the runs browser."""
        self.runs.refresh()
        self.main_tabs.setCurrentWidget(self.browser)
        self.runs.select_runs([run_id])

    def shutdown_study(self) -> None:
        if self.study_view is not None:
            self.study_view.shutdown()

    def _study_tab_changed(self, index: int) -> None:
        # The study takes the whole window: its runs do not go through the Run dock, and the editing docks
        # (model and data, methods) serve the recipe page. The layout's own handler has run first; leaving for the
        # saved runs, the editing docks stay hidden there and come back with the layout's list.
        widget = self.main_tabs.widget(index)
        shown = widget is self.study_view
        if shown and not self._study_shown:
            self._study_layout = (self.saveState(), self.raised_docks(), self.dock_sizes())
            self._study_hidden = [d for d in self.findChildren(QDockWidget) if d.isVisible()]
            for dock in self._study_hidden:
                dock.hide()
        elif not shown and self._study_shown:
            # Shown one by one, the docks came back with another height each and the last shown of a tab group in
            # front (the Head mask, not the Log): the layout the user left comes back, tabs in front included.
            state, front, sizes = self._study_layout or (None, [], {})
            to_browser = widget is self.browser and hasattr(self, "_hidden_docks")
            # Whole on the recipe page; not on the saved runs, whose page is wider than the recipe's: with the editing
            # docks restored there too, the window grew past the screen and squeezed the Run column to 125 px.
            if to_browser or state is None or not self.restoreState(state):
                for dock in self._study_hidden:
                    if to_browser and dock.widget() in (self.data_panel, self.palette):
                        if dock not in self._hidden_docks:
                            self._hidden_docks.append(dock)
                    else:
                        dock.show()
                self.restore_docks(front, sizes)
            self._study_hidden, self._study_layout = [], None
        self._study_shown = shown
