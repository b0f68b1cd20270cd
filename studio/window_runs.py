"""The window's run-facing side: start, queue, follow and end runs, export saved ones, warm the libraries up.

A mixin of :class:`~studio.main_window.MainWindow`. It talks to the run
controller only through ``start``, ``toggle_pause``, ``cancel`` and the
bridge's signals, so the engine behind the controller can move without
changing this module.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer

from core.errors import StudioError
from core.metrics import figures
from core.naming import run_name
from core.recipe import Recipe
from studio.dialogs import errors


def weight_precision(model, quantized: bool) -> str:
    """How the model stores its weights, in words: "float32", "int8 (dynamic quantization) ...", "4-bit ..."."""
    int8, kbit = 0, {}
    for module in model.modules():
        weight = getattr(module, "weight", None)
        packed = getattr(module, "_packed_params", None)
        if packed is not None or (callable(weight) and type(module).__module__.startswith("torch.ao.nn.quantized")):
            int8 += 1  # torch's dynamic int8 Linear keeps its weight packed
        elif hasattr(module, "codes") and isinstance(getattr(module, "bits", None), int):
            kbit[module.bits] = kbit.get(module.bits, 0) + 1
    parts = [f"int8 ({int8} linear layer{'s' if int8 != 1 else ''}, dynamic quantization)"] if int8 else []
    parts += [f"{bits}-bit ({n} matri{'ces' if n != 1 else 'x'})" for bits, n in sorted(kbit.items())]
    if parts:
        return ", ".join(parts) + "; the rest float"
    if quantized:
        return "int8 / k-bit (as its checkpoint says)"
    dtypes = sorted({str(p.dtype).replace("torch.", "") for p in model.parameters()})
    return ", ".join(dtypes) or "float32"


def describe_final_model(record) -> dict:
    """Load a saved run's final checkpoint and describe it as the inspector shows a model (off the GUI thread)."""
    from core.export.api import final_checkpoint
    from core.models.architecture import describe, serialized_size
    from core.models.reload import load_model_folder

    path = final_checkpoint(record)
    state = load_model_folder(path)
    return {**describe(state.model), "size_bytes": serialized_size(state.model), "source": str(path),
            "quantized": bool(state.quantized), "precision": weight_precision(state.model, state.quantized)}


def estimate_model(event) -> str | None:
    """The model a run that starts (its RunStarted event) loads."""
    recipe = getattr(event, "recipe", None) or {}
    return (recipe.get("model") or {}).get("source") if isinstance(recipe, dict) else None


class WindowRunsMixin:
    def _connect_run_signals(self) -> None:
        b = self.controller.bridge
        b.metric.connect(self.plots.on_metric)
        b.runStarted.connect(self.dashboard.on_run_started)
        b.runStarted.connect(lambda e: self.plots.set_task(e.recipe.get("task")))  # the task's figure plotted
        b.runStarted.connect(self._prime_estimate)  # after the dashboard made the run's estimate
        b.runStarted.connect(lambda _: self.heatmap.reset())
        b.runStarted.connect(lambda _: self.runs.refresh())  # listed (running) at once: the recorder wrote it first
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
        self.queue.changed.connect(self._queue_changed)
        self.browser.exportRequested.connect(self.export_run)
        self.runs.inspectRequested.connect(self.inspect_run)
        self.runs.openRecipeRequested.connect(self.open_run_recipe)
        self.runs.rerunRequested.connect(self.rerun)
        self.runs.runSelected.connect(self.predictions.set_run)  # a saved run's predictions, on request

    # -- starting and queueing -------------------------------------------
    def start_run(self) -> None:
        if self.run_action.isEnabled():
            self._launch(self.recipe())

    def _launch(self, recipe: Recipe, processes: int = 1) -> bool:
        """The one door for runs started by hand, from the queue or as a re-run; more than one process: torchrun."""
        try:
            self.controller.start(recipe, processes=processes)
        except (StudioError, OSError) as exc:
            errors.report_exception(self, "The recipe cannot run", exc)
            return False
        self.plots.reset(running=True)
        self.bottom_tabs.setCurrentWidget(self.plots)
        where = f", as {processes} processes (torchrun)" if processes > 1 else ""
        self.log.append_line(f"run started: {run_name(recipe)} ({len(recipe.steps)} steps) on "
                             f"{recipe.model.source}{where}")
        return True

    def queue_current(self) -> None:
        """Queue the recipe as shown now; it starts at once when nothing runs."""
        if not self.queue_action.isEnabled():
            return
        item = self.queue.add(self.recipe(), self.data_panel.processes())
        self.log.append_line(f"queued: {item.label}")
        self._start_next_queued()

    def _start_next_queued(self) -> None:
        while not self.controller.running:
            item = self.queue.pop()
            if item is None or self._launch(item.recipe, item.processes):
                return

    def _queue_changed(self) -> None:
        n = len(self.queue)
        self.bottom_tabs.setTabText(self.bottom_tabs.indexOf(self.queue_panel), f"Queue ({n})" if n else "Queue")

    # -- following a run -------------------------------------------------
    def _running_changed(self, running: bool) -> None:
        self.update_validity()
        if not running:
            self.runs.refresh()
            self.learn_speed()
            self.update_estimate()
            # After the end-of-run slots (dialogs, dashboard) have run: the next queued recipe starts.
            QTimer.singleShot(0, self, self._start_next_queued)

    # -- a rough time before a run -------------------------------------
    def learn_speed(self, look_back: int = 20) -> None:
        """Remember the training speed and the final measurement's length of recent finished runs.

        The speed comes from the newest run with a training step it computed (a run whose training came from the
        step cache says nothing about speed), the measurement from the newest finished run.
        """
        from studio.run_eta import measured_rate, measurement_seconds

        self._speed = self._measure = None
        try:
            finished = [r for r in self.store.list_runs() if r.status == "finished"][:look_back]
            for summary in finished:
                record = self.store.get_run(summary.id)
                if self._measure is None:
                    self._measure = measurement_seconds(record)
                rate = measured_rate(record)
                if rate is not None:
                    self._speed = (rate, record.model_source, record.device, record.name or record.id[:8])
                    break
        except Exception:  # a database that cannot be read gives no estimate, never an error here
            return

    def _prime_estimate(self, event) -> None:
        """The run's estimate starts from the recent speed on the same model, and the recent measurement's length."""
        estimate = self.dashboard.estimate
        speed = getattr(self, "_speed", None)
        if speed is not None and speed[1] == (estimate_model(event) or speed[1]):
            estimate.seconds_per_sample = speed[0]
        estimate.measure_seconds = getattr(self, "_measure", None)

    def update_estimate(self) -> None:
        """A rough time for the stack as shown: its training at the speed of a recent run on the same model, and
        the final measurement as long as the newest run's; the label says what it counts."""
        from studio.run_eta import recipe_seconds
        from studio.widgets.dashboard import format_seconds

        speed, measure = getattr(self, "_speed", None), getattr(self, "_measure", None)
        text, tip = "", ""
        if speed is not None and not self.controller.running:
            rate, model, device, name = speed
            recipe = self._shown_recipe()
            if recipe.model.source == model:
                seconds = recipe_seconds(recipe.to_dict(), rate)
                if seconds:
                    if measure is not None:
                        text = (f"Estimate: \u2248 {format_seconds(seconds + measure)} (training "
                                f"{format_seconds(seconds)} + measuring {format_seconds(measure)})")
                    else:
                        text = f"Estimate: \u2248 {format_seconds(seconds)} of training"
                    tip = (f"At the training speed of run \u201c{name}\u201d ({model} on {device}): "
                           f"{rate * 1000:.1f} ms a sentence, from the steps it computed (not those it reused from "
                           "the step cache). Steps that do not train count as none; steps this run reuses from the "
                           "cache take less. The final measurement: as long as the newest finished run's.")
        self.estimate_label.setText(text)
        self.estimate_label.setToolTip(tip)
        self.estimate_label.setVisible(bool(text))

    def _paused_changed(self, paused: bool) -> None:
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.dashboard.set_paused(paused)
        self.log.append_line("paused" if paused else "resumed")

    def _run_finished(self, event) -> None:
        summary = figures.summary(event.results) or "no figures"
        self.plots.on_run_finished(event.results, len(self.dashboard.titles))
        self.dashboard.on_run_ended(event, f"Finished: {summary}")
        self.log.append_line(f"run finished: {summary}")
        self.predictions.set_run(event.run_id)

    def _run_failed(self, event) -> None:
        self.dashboard.on_run_ended(event, "Failed")
        self.log.append_line(f"run failed: {event.error}", "error")
        errors.show_error(self, "The run failed", event.error, event.details)

    def _run_cancelled(self, event) -> None:
        self.dashboard.on_run_ended(event, "Cancelled")
        self.log.append_line("run cancelled")

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

    # -- saved runs ------------------------------------------------------
    def _run_recipe(self, run_id: str) -> Recipe | None:
        """The recipe a saved run ran, or None (with a message) when it cannot be read back."""
        try:
            record = self.store.get_run(run_id)
            return Recipe.from_dict(record.recipe)
        except (KeyError, StudioError) as exc:
            errors.report_exception(self, "The run's recipe cannot be used", exc)
            return None

    def open_run_recipe(self, run_id: str) -> bool:
        """Load a saved run's recipe (stack, model, data, device) into the editor, asking over unsaved changes."""
        recipe = self._run_recipe(run_id)
        if recipe is None or not self.may_discard_changes("open this run's recipe"):
            return False
        name = next((r.name for r in self.runs.rows if r.id == run_id), run_id[:8])
        self.recipe_path = None  # Save asks where
        self._title = f"recipe of run {name}"
        self.set_recipe(recipe)
        self.main_tabs.setCurrentIndex(0)
        return True

    def rerun(self, run_id: str) -> bool:
        """Run a saved run's recipe again as it was (queued behind a run in progress)."""
        recipe = self._run_recipe(run_id)
        if recipe is None:
            return False
        item = self.queue.add(recipe)
        self.log.append_line(f"re-run queued: {item.label}")
        self._start_next_queued()
        return True

    def inspect_run(self, run_id: str) -> None:
        """Open the model inspector on a saved run's final model (loaded off the GUI thread)."""
        from studio.workers import run_in_background

        try:
            record = self.store.get_run(run_id)
        except KeyError as exc:
            errors.report_exception(self, "The run is gone", exc)
            return
        self.statusBar().showMessage(f"Loading the final model of run {run_id[:8]}…")

        def failed(exc: BaseException) -> None:
            self.statusBar().clearMessage()
            errors.report_exception(self, "The final model cannot be inspected", exc)

        def loaded(info: dict) -> None:
            self.statusBar().clearMessage()
            from studio.dialogs.inspector import ModelInspector

            self.inspector = ModelInspector(info, self)
            self.inspector.setWindowTitle(f"Final model of {record.name or run_id[:8]}")
            self.inspector.show()

        run_in_background(lambda: describe_final_model(record), loaded, failed, self)

    def export_run(self, run_id: str):
        """Open the export dialog for a saved run (returns it, for tests)."""
        from studio.dialogs.export_dialog import ExportDialog

        repo = self.store.repository()
        if repo is None:
            errors.show_error(self, "Export", self.store.error or "There is no runs database to export from.")
            return None
        name = next((r.name for r in self.runs.rows if r.id == run_id), "")
        self.export_dialog = ExportDialog(repo, run_id, name, self)
        self.export_dialog.exportFinished.connect(lambda report: self.browser.show_selection(self.runs.selected_run_ids()))
        self.export_dialog.show()
        return self.export_dialog

    # -- start-up --------------------------------------------------------
    def start_warm_up(self) -> None:
        """Load the run's libraries in the background now, so the first run does not freeze the window."""
        from studio.warmup import warm_up
        from studio.workers import run_in_background

        self.statusBar().showMessage("Loading the machine-learning libraries\u2026")

        def done(_=None) -> None:
            self.statusBar().showMessage("Ready", 3000)
            try:
                import torch  # loaded by the warm-up, so this costs nothing now
            except ImportError:
                return
            self.data_panel.set_cuda_available(torch.cuda.is_available())
            self.warmedUp.emit()

        run_in_background(warm_up, done, done, self)
