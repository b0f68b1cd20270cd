"""The window's actions: the menus, the toolbar and their keyboard shortcuts.

A mixin of :class:`~studio.main_window.MainWindow`; every action calls a
method the window already has, so this module holds no behaviour of its own.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget

from studio.dialogs.about import show_about


class WindowActionsMixin:
    def _action(self, text: str, slot, shortcut=None, menu=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def show_help(self):
        """Help > Figures and methods (non-modal; returns the page, for tests)."""
        from studio.dialogs.help_page import HelpDialog

        if getattr(self, "help_dialog", None) is None:
            self.help_dialog = HelpDialog(self)
        self.help_dialog.show()
        self.help_dialog.raise_()
        return self.help_dialog

    def run_pressed(self) -> None:
        """Run: in the studio's worker, or with more than one process chosen, as that many local processes."""
        processes = self.data_panel.processes()
        if processes <= 1:
            self.start_run()
        elif self.run_action.isEnabled():
            self.start_processes(processes)

    def start_processes(self, processes: int) -> bool:
        """Start the recipe as ``processes`` local processes under torchrun; the window follows its events."""
        return self._launch(self.recipe(), processes)

    def show_parallel_command(self):
        """Run > Run on several processes (non-modal; returns the dialog, for tests)."""
        from studio.dialogs.parallel_command import ParallelRunDialog

        dialog = getattr(self, "parallel_dialog", None)
        if dialog is None:
            dialog = self.parallel_dialog = ParallelRunDialog(self, max(2, self.data_panel.processes()))
        else:
            dialog.processes.setValue(max(2, self.data_panel.processes()))
            dialog.refresh()
        dialog.show()
        dialog.raise_()
        return dialog

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_action = self._action("&New stack", lambda: self.new_recipe(), QKeySequence.StandardKey.New,
                                       file_menu, "Start an empty stack; the model and data stay (Ctrl+N)")
        self.open_action = self._action("&Open recipe\u2026", lambda: self.open_recipe(), QKeySequence.StandardKey.Open,
                                        file_menu, "Open a recipe file (Ctrl+O)")
        self.save_action = self._action("&Save recipe", lambda: self.save_recipe(self.recipe_path),
                                        QKeySequence.StandardKey.Save, file_menu, "Save the recipe (Ctrl+S)")
        self._action("Save recipe &as\u2026", lambda: self.save_recipe(None), QKeySequence.StandardKey.SaveAs, file_menu)
        self.recent_menu = file_menu.addMenu("Recent recipes")
        self.examples_menu = file_menu.addMenu("Open &example")
        file_menu.addSeparator()
        self.database_action = self._action("Runs &database location\u2026", lambda: self.choose_database(), None,
                                            file_menu, "Choose where the studio records its runs")
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, file_menu)
        run_menu = bar.addMenu("&Run")
        self.run_action = self._action("&Run", self.run_pressed, "Ctrl+R", run_menu, "Run the stack (Ctrl+R)")
        self.queue_action = self._action("&Queue", self.queue_current, "Ctrl+Shift+R", run_menu,
                                         "Queue the recipe as it is now to run after the current run (Ctrl+Shift+R)")
        self.pause_action = self._action("&Pause", self.controller.toggle_pause, "Ctrl+P", run_menu,
                                         "Pause the run between batches, or resume it (Ctrl+P)")
        self.cancel_action = self._action("&Cancel", self.controller.cancel, "Ctrl+.", run_menu,
                                          "Cancel the run (Ctrl+.)")
        run_menu.addSeparator()
        self.parallel_action = self._action("Run on several &processes…", self.show_parallel_command, None,
                                            run_menu, "The torchrun command that runs this recipe from a terminal "
                                            "or on cluster nodes, against the runs database")
        view_menu = bar.addMenu("&View")
        for dock in self.findChildren(QDockWidget):
            view_menu.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        self.help_action = self._action("&Figures and methods", self.show_help, QKeySequence.StandardKey.HelpContents,
                                        help_menu, "What each figure means and how it is measured; what each method does")
        self.start_help_action = self._action("&Getting started", lambda: self.show_help().show_page("start"), None,
                                              help_menu, "A first run in five steps, with pictures")
        self._action("&About", lambda: show_about(self, self.database_note()), None, help_menu)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        for action in (self.open_action, self.save_action, self.run_action, self.queue_action, self.pause_action,
                       self.cancel_action):
            toolbar.addAction(action)
        self._refresh_recent_menu()
        self._fill_examples_menu()
