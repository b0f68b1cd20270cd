"""The studio window: assembles the panels, wires them to the run controller, holds the actions."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QSplitter, QTabWidget, QWidget

from core.errors import StudioError
from core.recipe import DataRef, Recipe, Step
from studio.dialogs import errors
from studio.dialogs.about import show_about
from studio.dialogs.inspector import ModelInspector
from studio.recipe_files import RecipeFilesMixin
from studio.run_controller import RunController
from studio.run_queue import RunQueue
from studio.runs_store import DatabaseRunsStore, RunsStore
from studio.settings import StudioSettings
from studio.widgets.dashboard import Dashboard
from studio.widgets.live_plots import LivePlots
from studio.widgets.log_panel import LogPanel
from studio.widgets.mask_heatmap import MaskHeatmap
from studio.widgets.method_palette import MethodPalette
from studio.widgets.model_data_panel import ModelDataPanel
from studio.widgets.queue_panel import QueuePanel
from studio.widgets.run_browser import RunBrowser
from studio.widgets.settings_form import SettingsForm
from studio.widgets.stack_editor import StackEditor

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def default_recipe() -> Recipe:
    """What the studio opens with: the embedded model and data, and a short example stack."""
    return Recipe(
        name="example",
        data=DataRef(train_samples=2000, validation_samples=500, test_samples=1000),
        steps=[
            Step("finetune", {"epochs": 1.0, "eval_every": 20}),
            Step("prune.magnitude", {"sparsity": 0.5}),
            Step("finetune", {"epochs": 0.5, "eval_every": 10}, label="Recover (fine-tune)"),
            Step("quant.dynamic_int8", {}),
        ],
    )


class MainWindow(RecipeFilesMixin, QMainWindow):
    warmedUp = Signal()  # the libraries a run needs are loaded (see start_warm_up)

    def __init__(self, settings: StudioSettings | None = None, store: RunsStore | None = None, engine=None,
                 recipe: Recipe | None = None):
        super().__init__()
        self.setWindowTitle("BERT Compression Studio")
        self.setWindowIcon(QIcon(str(RESOURCES / "icons" / "studio.svg")))
        self.settings = settings or StudioSettings()
        self.store = store if store is not None else DatabaseRunsStore(self.settings.database_url())
        self.controller = RunController(self.store, engine, self)
        self.recipe_path: Path | None = None
        self.inspector: ModelInspector | None = None
        self.sensitivity: dict | None = None  # the latest analyze.sensitivity result (JSON + run_id)
        self._base = Recipe()  # the parts of the recipe without a panel (name, evaluation, seed)

        self.data_panel = ModelDataPanel()
        self.palette = MethodPalette()
        self.stack = StackEditor()
        self.form = SettingsForm()
        self.plots = LivePlots()
        self.dashboard = Dashboard()
        self.log = LogPanel()
        self.heatmap = MaskHeatmap()
        self.browser = RunBrowser(self.store)
        self.runs = self.browser.list
        self.queue = RunQueue(self)
        self.queue_panel = QueuePanel(self.queue)
        self.problems_label = QLabel("")
        self.problems_label.setObjectName("problems")
        self.problems_label.setWordWrap(True)
        self._build_layout()
        self._build_actions()
        self._connect()
        for source in self.settings.recent("models"):
            if Path(source).is_dir():
                self.data_panel._select(self.data_panel.model_box, source, {})
        self.data_panel.model_box.setCurrentIndex(0)
        for source in self.settings.recent("data"):
            if Path(source).exists():  # a file or a save_to_disk folder
                self.data_panel.add_recent_data(source)
        if recipe is None:
            recipe = default_recipe()
            recipe.device = self.settings.device()
        self.set_recipe(recipe)
        self._restore_window()

    # -- layout ----------------------------------------------------------
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

    def _action(self, text: str, slot, shortcut=None, menu=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action("&Open recipe\u2026", lambda: self.open_recipe(), QKeySequence.StandardKey.Open, file_menu)
        self.save_action = self._action("&Save recipe", lambda: self.save_recipe(self.recipe_path), QKeySequence.StandardKey.Save, file_menu)
        self._action("Save recipe &as\u2026", lambda: self.save_recipe(None), QKeySequence.StandardKey.SaveAs, file_menu)
        self.recent_menu = file_menu.addMenu("Recent recipes")
        self.examples_menu = file_menu.addMenu("Open &example")
        file_menu.addSeparator()
        self.database_action = self._action("Runs &database location\u2026", lambda: self.choose_database(), None,
                                            file_menu)
        file_menu.addSeparator()
        self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, file_menu)
        run_menu = bar.addMenu("&Run")
        self.run_action = self._action("&Run", self.start_run, "Ctrl+R", run_menu)
        self.queue_action = self._action("&Queue", self.queue_current, "Ctrl+Shift+R", run_menu)
        self.pause_action = self._action("&Pause", self.controller.toggle_pause, "Ctrl+P", run_menu)
        self.cancel_action = self._action("&Cancel", self.controller.cancel, "Ctrl+.", run_menu)
        view_menu = bar.addMenu("&View")
        for dock in self.findChildren(QDockWidget):
            view_menu.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        self._action("&About", lambda: show_about(self), None, help_menu)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        for action in (self.open_action, self.save_action, self.run_action, self.queue_action, self.pause_action,
                       self.cancel_action):
            toolbar.addAction(action)
        self.run_action.setToolTip("Run the stack (Ctrl+R)")
        self.cancel_action.setToolTip("Cancel the run (Ctrl+.)")
        self.queue_action.setToolTip("Queue the recipe as it is now to run after the current run (Ctrl+Shift+R)")
        self._refresh_recent_menu()
        self._fill_examples_menu()

    def _connect(self) -> None:
        b = self.controller.bridge
        b.metric.connect(self.plots.on_metric)
        b.runStarted.connect(self.dashboard.on_run_started)
        b.stepStarted.connect(self.dashboard.on_step_started)
        b.stepFinished.connect(self.dashboard.on_step_finished)
        b.stepFinished.connect(self.plots.on_step_finished)
        b.progress.connect(self.dashboard.on_progress)
        b.maskUpdate.connect(self.heatmap.on_mask)
        b.checkpoint.connect(self._checkpoint)
        b.logMessage.connect(self.log.on_log)
        b.stepStarted.connect(lambda e: self.log.append_line(f"step {e.index + 1}: {e.title}"))
        b.runFinished.connect(self._run_finished)
        b.runFailed.connect(self._run_failed)
        b.runCancelled.connect(self._run_cancelled)
        self.controller.runningChanged.connect(self._running_changed)
        self.controller.pausedChanged.connect(self._paused_changed)
        self.palette.methodActivated.connect(lambda name: self.stack.add_method(name))
        self.stack.currentStepChanged.connect(self.form.set_step)
        self.stack.stackChanged.connect(self.update_validity)
        self.form.settingsChanged.connect(self.update_validity)
        self.data_panel.changed.connect(self.update_validity)
        self.data_panel.busyChanged.connect(lambda _: self.update_validity())
        self.data_panel.modelDescribed.connect(self._model_described)
        self.data_panel.dataAccepted.connect(lambda path: self.settings.add_recent("data", path))
        self.data_panel.deviceChanged.connect(self.settings.set_device)
        self.queue.changed.connect(self._queue_changed)
        self.browser.exportRequested.connect(self.export_run)

    # -- the recipe ------------------------------------------------------
    def recipe(self) -> Recipe:
        """The recipe as shown in the window (a fresh object each call); the device is the panel's."""
        base = self._base
        return Recipe(name=base.name, model=self.data_panel.model_ref(), data=self.data_panel.data_ref(),
                      steps=[Step(s.method, dict(s.settings), s.label) for s in self.stack.steps()],
                      evaluation=base.evaluation, device=self.data_panel.device(), seed=base.seed)

    def set_recipe(self, recipe: Recipe) -> None:
        self._base = recipe.copy()
        self.data_panel.set_model_ref(recipe.model)
        self.data_panel.set_data_ref(recipe.data)
        self.data_panel.set_device(recipe.device)
        self.stack.set_steps(recipe.steps)
        self.update_validity()

    def problems(self) -> list[str]:
        out = self.recipe().problems()
        if not self.stack.steps():
            out.append("the stack is empty: add a method from the palette")
        return out

    def update_validity(self) -> None:
        problems = self.problems()
        rows = {}
        for p in problems:
            if p.startswith("step "):
                try:
                    rows.setdefault(int(p.split()[1]) - 1, p)
                except ValueError:
                    pass
        self.stack.refresh_titles(rows)
        self.problems_label.setText("\n".join(f"\u26a0 {p}" for p in problems[:4]))
        self.problems_label.setVisible(bool(problems))
        running = self.controller.running
        self.run_action.setEnabled(not problems and not running and not self.data_panel.busy)
        self.queue_action.setEnabled(not problems and not self.data_panel.busy)
        self.cancel_action.setEnabled(running)
        self.pause_action.setEnabled(running)

    # -- running ---------------------------------------------------------
    def start_run(self) -> None:
        if self.run_action.isEnabled():
            self._launch(self.recipe())

    def _launch(self, recipe: Recipe) -> bool:
        try:
            self.controller.start(recipe)
        except StudioError as exc:
            errors.report_exception(self, "The recipe cannot run", exc)
            return False
        self.plots.reset()
        self.bottom_tabs.setCurrentWidget(self.plots)
        self.log.append_line(f"run started: {recipe.name} ({len(recipe.steps)} steps) on {recipe.model.source}")
        return True

    def queue_current(self) -> None:
        """Queue the recipe as shown now; it starts at once when nothing runs."""
        if not self.queue_action.isEnabled():
            return
        item = self.queue.add(self.recipe())
        self.log.append_line(f"queued: {item.label}")
        self._start_next_queued()

    def _start_next_queued(self) -> None:
        while not self.controller.running:
            item = self.queue.pop()
            if item is None or self._launch(item.recipe):
                return

    def _queue_changed(self) -> None:
        n = len(self.queue)
        self.bottom_tabs.setTabText(self.bottom_tabs.indexOf(self.queue_panel), f"Queue ({n})" if n else "Queue")

    def _running_changed(self, running: bool) -> None:
        self.update_validity()
        if not running:
            self.runs.refresh()
            # After the end-of-run slots (dialogs, dashboard) have run: the next queued recipe starts.
            QTimer.singleShot(0, self, self._start_next_queued)

    def _paused_changed(self, paused: bool) -> None:
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.dashboard.set_paused(paused)
        self.log.append_line("paused" if paused else "resumed")

    def _run_finished(self, event) -> None:
        r = event.results
        summary = f"accuracy {100 * r.get('accuracy', 0):.1f} %"
        if "speedup" in r:
            summary += f", {r['speedup']:.2f}x faster, {r.get('parameter_ratio', 1):.2f}x fewer parameters"
        self.dashboard.on_run_ended(event, f"Finished: {summary}")
        self.log.append_line(f"run finished: {summary}")

    def _run_failed(self, event) -> None:
        self.dashboard.on_run_ended(event, "Failed")
        self.log.append_line(f"run failed: {event.error}", "error")
        errors.show_error(self, "The run failed", event.error, event.details)

    def _run_cancelled(self, event) -> None:
        self.dashboard.on_run_ended(event, "Cancelled")
        self.log.append_line("run cancelled")

    def export_run(self, run_id: str):
        """Open the export dialog for a saved run (returns it, for tests)."""
        from studio.dialogs.export_dialog import ExportDialog

        repo = self.store.repository()
        if repo is None:
            errors.show_error(self, "Export", self.store.error or "There is no runs database to export from.")
            return None
        name = next((r.name for r in self.runs.rows if r.run_id == run_id), "")
        self.export_dialog = ExportDialog(repo, run_id, name, self)
        self.export_dialog.exportFinished.connect(lambda report: self.browser.show_selection(self.runs.selected_run_ids()))
        self.export_dialog.show()
        return self.export_dialog

    def _model_described(self, info: dict) -> None:
        if Path(str(info.get("source", ""))).is_dir():
            self.settings.add_recent("models", info["source"])
        self.inspector = ModelInspector(info, self, self.sensitivity)
        self.inspector.show()

    def _checkpoint(self, event) -> None:
        if event.kind != "sensitivity":
            return
        from studio.widgets.importance_map import load_sensitivity

        try:
            self.sensitivity = {**load_sensitivity(event.path), "run_id": event.run_id}
        except StudioError as exc:
            self.log.append_line(str(exc), "warning")
            return
        self.log.append_line(f"head importance ready: {event.path} (Model \u25b8 Inspect shows it)")
        if self.inspector is not None:
            self.inspector.set_sensitivity(self.sensitivity)

    def start_warm_up(self) -> None:
        """Load the run's libraries in the background now, so the first run does not freeze the window."""
        from studio.warmup import warm_up
        from studio.workers import run_in_background

        self.statusBar().showMessage("Loading the machine-learning libraries…")

        def done(_=None) -> None:
            self.statusBar().showMessage("Ready", 3000)
            try:
                import torch  # loaded by the warm-up, so this costs nothing now
            except ImportError:
                return
            self.data_panel.set_cuda_available(torch.cuda.is_available())
            self.warmedUp.emit()

        run_in_background(warm_up, done, done, self)

    # -- window state ----------------------------------------------------
    def _restore_window(self) -> None:
        geometry, state = self.settings.geometry(), self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.controller.running:
            if not errors.ask_yes_no(self, "A run is in progress", "Cancel the run in progress and quit?"):
                event.ignore()
                return
        self.queue.clear()  # nothing queued may start while the window closes
        self.controller.shutdown()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.store.close()
        event.accept()
