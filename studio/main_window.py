"""The studio window: creates the panels and the one recipe model they edit (:mod:`studio.recipe_model`).

The rest of the window lives in mixins, one concern each: the layout and docks
(:mod:`studio.window_layout`), the menus and toolbar (:mod:`studio.window_actions`),
runs and the queue (:mod:`studio.window_runs`), recipe files and the runs
database (:mod:`studio.recipe_files`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QLabel, QMainWindow

from core.errors import Problem
from core.recipe import DataRef, Recipe, Step
from core.recipe_diff import effective_recipe
from studio.dialogs import errors
from studio.dialogs.inspector import ModelInspector
from studio.model_profile import family_problems, model_profile
from studio.recipe_files import RecipeFilesMixin
from studio.recipe_model import RecipeModel
from studio.run_controller import RunController
from studio.run_queue import RunQueue
from studio.runs_store import DatabaseRunsStore, RunsStore
from studio.settings import StudioSettings
from studio.widgets.dashboard import Dashboard
from studio.widgets.live_plots import LivePlots
from studio.widgets.log_panel import LogPanel
from studio.widgets.mask_heatmap import MaskHeatmap
from studio.widgets.prediction_preview import PredictionPreview
from studio.widgets.method_palette import MethodPalette
from studio.widgets.model_data_panel import ModelDataPanel
from studio.widgets.queue_panel import QueuePanel
from studio.widgets.recipe_settings import EvaluationForm, InputsKeptNote, RecipeNameField
from studio.widgets.run_browser import RunBrowser
from studio.widgets.settings_form import SettingsForm
from studio.widgets.stack_editor import StackEditor
from studio.window_actions import WindowActionsMixin
from studio.window_layout import WindowLayoutMixin
from studio.window_runs import WindowRunsMixin
from studio.window_study import WindowStudyMixin

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def default_recipe() -> Recipe:
    """What the studio opens with: the embedded model and data, and a short example stack."""
    return Recipe(
        name="untitled",  # runs are named from their stack (core.naming.run_name)
        data=DataRef(train_samples=2000, validation_samples=500, test_samples=1000),
        steps=[
            Step("finetune", {"epochs": 1.0, "eval_every": 20}),
            Step("prune.magnitude", {"sparsity": 0.5}),
            Step("finetune", {"epochs": 0.5, "eval_every": 10}, label="Recover (fine-tune)"),
            Step("quant.dynamic_int8", {}),
        ],
    )


class MainWindow(WindowLayoutMixin, WindowActionsMixin, WindowRunsMixin, WindowStudyMixin, RecipeFilesMixin,
                 QMainWindow):
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
        self._clean: dict = {}  # the effective recipe as last opened or saved (see is_modified)
        self._effective_now: tuple[int, dict] = (-1, {})  # (revision, effective recipe) of the recipe model
        self._title = "example stack"  # what the title says is being edited, when no file is
        self._profile: tuple[str, bool] = ("", False)  # the model's family, as the last validation read it
        self._opened_name = "untitled"  # the name the recipe had when opened or saved (see _name_from_stack)
        self._name_typed = False  # the user typed the name in use since: it sticks

        # The one recipe the panels edit; validated once per change, with the model family's check.
        self.recipe_model = RecipeModel(checks=(self._family_problems,), parent=self)
        self.data_panel = ModelDataPanel(self.recipe_model)
        self.data_panel.folders = self.settings
        self.palette = MethodPalette()
        self.stack = StackEditor(self.recipe_model)
        self.form = SettingsForm(self.recipe_model)
        self.name_field = RecipeNameField(self.recipe_model)
        self.evaluation_form = EvaluationForm(self.recipe_model)
        self.inputs_note = InputsKeptNote()
        self.plots = LivePlots()
        self.dashboard = Dashboard()
        self.log = LogPanel()
        self.heatmap = MaskHeatmap()
        self.browser = RunBrowser(self.store)
        self.runs = self.browser.list
        self.predictions = PredictionPreview(self.store.get_run)
        self.queue = RunQueue(self)
        self.queue_panel = QueuePanel(self.queue)
        self.problems_label = QLabel("")
        self.problems_label.setObjectName("problems")
        self.problems_label.setWordWrap(True)
        self._build_layout()
        self._build_actions()
        self._build_study()
        self._connect()
        self._connect_run_signals()
        self._offer_recent_sources()
        self._show_database()
        self.learn_speed()
        if recipe is None:
            recipe = default_recipe()
            recipe.device = self.settings.device()
        self.set_recipe(recipe)
        self._restore_window()

    def _connect(self) -> None:
        self.palette.methodActivated.connect(lambda name: self.stack.add_method(name))
        self.stack.currentStepChanged.connect(self.form.set_step)
        self.recipe_model.problemsChanged.connect(lambda _: self.update_validity())  # after every change
        for signal in (self.recipe_model.stepsChanged, self.recipe_model.stepChanged, self.recipe_model.inputsChanged):
            signal.connect(self._name_from_stack)
        self.name_field.nameTyped.connect(self.type_name)
        self.inputs_note.useExample.connect(self.use_example_inputs)
        self.warmedUp.connect(self.recipe_model.revalidate)  # the model's family is checked once torch is loaded
        self.data_panel.busyChanged.connect(lambda _: self.update_validity())
        self.data_panel.changed.connect(lambda: self.controller.running or self.plots.set_task(self.data_panel.task()))
        self.data_panel.modelDescribed.connect(self._model_described)
        self.data_panel.modelAccepted.connect(self._model_accepted)
        self.data_panel.dataAccepted.connect(
            lambda path: self.settings.add_recent_data(path, self.data_panel.column_mapping()))
        self.data_panel.deviceChanged.connect(self.settings.set_device)
        self.data_panel.set_processes(self.settings.processes())
        self.data_panel.processesChanged.connect(self.settings.set_processes)

    def _offer_recent_sources(self) -> None:
        """Put the remembered model folders and data sources that still exist in the panel's lists."""
        for source in self.settings.recent("models"):
            if Path(source).is_dir():
                self.data_panel._select(self.data_panel.model_box, source, {})
        self.data_panel.model_box.setCurrentIndex(0)
        for source in self.settings.recent("data"):
            if Path(source).exists():  # a file or a save_to_disk folder
                self.data_panel.add_recent_data(source, self.settings.data_mapping(source))

    # -- the recipe ------------------------------------------------------
    def recipe(self) -> Recipe:
        """A copy of the recipe being edited, to run, queue or save (its name as :meth:`_name_from_stack` keeps it)."""
        return self.recipe_model.recipe.copy()

    def type_name(self, name: str) -> None:
        """The user typed ``name`` in the name field: it sticks; an empty one names the runs from their stack."""
        self._name_typed = bool(name)
        if not name:
            self._opened_name = "untitled"
        self.recipe_model.set_name(name or "untitled")

    def _name_from_stack(self, *_) -> None:
        """An opened recipe's name only while its stack and model are the ones opened; then the stack's.

        So two different stacks opened from one example cannot be confused, and after opening a study trial's
        recipe the runs on another stack or model are not named after that trial. A name the user typed stays.
        """
        if self._name_typed:
            return
        effective = self._effective()
        same = all(effective.get(k) == self._clean.get(k) for k in ("steps", "model"))
        name = self._opened_name if same else "untitled"
        if self.recipe_model.recipe.name != name:
            self.recipe_model.set_name(name)

    def _shown_recipe(self) -> Recipe:
        """The recipe being edited itself (read it; the panels change it through :attr:`recipe_model`)."""
        return self.recipe_model.recipe

    def _effective(self) -> dict:
        """The recipe being edited with its defaults filled in (no name), worked out once per change."""
        revision, out = self._effective_now
        if revision != self.recipe_model.revision:
            out = effective_recipe(self.recipe_model.recipe.to_dict())
            out.pop("name", None)
            self._effective_now = (self.recipe_model.revision, out)
        return out

    def set_recipe(self, recipe: Recipe, keep_inputs: bool = False) -> None:
        """Edit ``recipe``; ``keep_inputs`` keeps the model, data (with its caps) and device already chosen."""
        if keep_inputs:
            recipe, current = recipe.copy(), self.recipe_model.recipe
            recipe.model, recipe.data, recipe.device = current.model, current.data, current.device
        self.inputs_note.hide()  # about the example opened before, if any
        self.recipe_model.set_recipe(recipe)  # a copy
        self.mark_clean()

    def mark_clean(self) -> None:
        """The recipe as it is now is the one opened or saved: not modified."""
        self._clean = self._effective()
        self._opened_name, self._name_typed = self.recipe_model.recipe.name, False
        self.update_validity()

    def is_modified(self) -> bool:
        """Whether the stack, its settings, the model, the data, the device or a typed name differ from what was
        opened or saved."""
        return self._effective() != self._clean or (self._name_typed and
                                                    self.recipe_model.recipe.name != self._opened_name)

    def update_title(self) -> None:
        what = self.recipe_path.name if self.recipe_path is not None else self._title
        self.setWindowTitle(f"BERT Compression Studio \u2014 {what}[*]")
        self.setWindowModified(self.is_modified())

    def problems(self) -> list[Problem]:
        """What the recipe model's last validation found (the stack marks its rows from the same list)."""
        return self.recipe_model.problems

    def _family_problems(self, recipe: Recipe) -> list[Problem]:
        """The recipe model's check of the steps the chosen model's family cannot take."""
        self._profile = model_profile(recipe.model.source)
        return family_problems(recipe, self._profile)

    def update_validity(self) -> None:
        """Show the recipe model's problems and enable what they allow (validates nothing)."""
        self.palette.set_model_profile(*self._profile, task=getattr(self.recipe_model.recipe, "task", None),
                                       steps=self.recipe_model.steps)  # greyed as at the stack's end
        problems = self.problems()
        self.problems_label.setText("\n".join(f"\u26a0 {p}" for p in problems[:4]))
        self.problems_label.setVisible(bool(problems))
        running = self.controller.running
        self.run_action.setEnabled(not problems and not running and not self.data_panel.busy)
        self.queue_action.setEnabled(not problems and not self.data_panel.busy)
        self.cancel_action.setEnabled(running)
        self.pause_action.setEnabled(running)
        self.update_title()
        self.update_estimate()

    def _model_accepted(self, info: dict) -> None:
        if Path(str(info.get("source", ""))).is_dir():
            self.settings.add_recent("models", info["source"])

    def _model_described(self, info: dict) -> None:
        self._model_accepted(info)
        self.inspector = ModelInspector(info, self, self.sensitivity)
        self.inspector.show()

    # -- closing ---------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.may_discard_changes("quit"):
            event.ignore()
            return
        if self.controller.running:
            if not errors.ask_yes_no(self, "A run is in progress", "Cancel the run in progress and quit?"):
                event.ignore()
                return
        self.queue.clear()  # nothing queued may start while the window closes
        self.shutdown_study()  # its running trials are cancelled; the study stays resumable
        self.controller.shutdown()
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.store.close()
        event.accept()
