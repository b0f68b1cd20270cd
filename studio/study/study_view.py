"""The Study view: set a study up from the current stack, start it off the GUI thread, watch it live.

Left, the form (:class:`~studio.study.study_setup.StudySetup`) and Start / Stop / Resume; right, the
study as the database has it (:func:`core.study.runner.study_report`, re-read as trials start and end):
a status line, the best run so far, the trials table, the Pareto scatter and, for an order study, the
interaction table. A trial opens as a run in the runs browser or as a recipe in the stack editor.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QTabWidget,
                               QVBoxLayout, QWidget)

from core import events as ev
from core.metrics.figures import format_figure, label as figure_label
from core.recipe import Recipe
from core.scoring import retained_figure
from studio.dialogs import errors
from studio.study.interaction_table import InteractionTable, order_reasons
from studio.study.pareto_plot import ParetoPlot
from studio.study.session import StudySession
from studio.study.study_setup import StudySetup
from studio.study.trials_table import TrialsTable, format_score

IDLE = "No study yet: set one up on the left and press Start."
REFRESH_MS = 250  # events arrive in bursts (a trial ends, the next starts): one report read per burst


def study_dock_text(running: bool) -> str:
    """What the Run dock says while a study runs and after: its trials do not go through the dock, so the dock's
    last run ("Failed", "Finished") must not read as the study's."""
    return ("Study running: its trials are followed in the Study tab" if running else
            "Study stopped or done: its trials are in the Study tab and in Saved runs")


def _lower_first(text: str) -> str:
    """``Entity F1 retained`` -> ``entity F1 retained`` (inside a sentence; acronyms kept)."""
    return text[:1].lower() + text[1:]


class StudyView(QWidget):
    openRunRequested = Signal(str)  # run id: show it in the runs browser
    openRecipeRequested = Signal(str)  # run id: load its recipe into the stack editor
    runsChanged = Signal()  # a trial's run was recorded
    runningChanged = Signal(bool)
    templateRequested = Signal()  # "Use the current stack": the window answers with set_template(its recipe)

    def __init__(self, db_url: str | None, parent: QWidget | None = None, workdir_root=None):
        super().__init__(parent)
        self.db_url = db_url
        self.session = StudySession(db_url, self, workdir_root=workdir_root)
        self.report = None
        self._started_at: float | None = None
        self.setup = StudySetup()
        self.setup.changed.connect(self._update_buttons)
        self.from_stack = QPushButton("Use the current stack")
        self.from_stack.setToolTip("Take the stack, model and data shown in the editor as the study's template")
        self.start_button = QPushButton("Start study")
        self.start_button.setObjectName("primary")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the study: the running trials are cancelled; Resume runs them again")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Run the stopped study again: its cancelled and interrupted trials first")
        self.from_stack.clicked.connect(self.templateRequested)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        buttons = QHBoxLayout()
        for b in (self.from_stack, self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the form follows the width
        scroll.setWidget(self.setup)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)

        self.saved = QComboBox()
        self.saved.setToolTip("Studies recorded in this database: pick one to see it, or to resume it if it was "
                              "stopped")
        self.saved.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.saved.setMinimumContentsLength(30)
        self.saved.activated.connect(self._open_saved)
        saved_row = QHBoxLayout()
        saved_row.addWidget(QLabel("Saved studies"))
        saved_row.addWidget(self.saved, 1)
        self.status = QLabel(IDLE)
        self.status.setObjectName("study_status")
        self.status.setWordWrap(True)
        self.now = QLabel("")
        self.now.setObjectName("hint")
        self.now.setWordWrap(True)
        self._live: dict[str, dict] = {}  # run id -> what its trial is doing now (from the run's own events)
        self.best = QLabel("")
        self.best.setObjectName("study_best")
        self.best.setWordWrap(True)
        self.best.setTextFormat(Qt.TextFormat.RichText)
        self.trials = TrialsTable()
        self.pareto = ParetoPlot()
        self.interaction = InteractionTable()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.trials, "Trials")
        self.tabs.addTab(self.pareto, "Pareto front")
        self.tabs.addTab(self.interaction, "Interaction")
        self.open_run = QPushButton("Open run")
        self.open_run.setToolTip("Show the selected trial's run in the runs browser (or double-click it)")
        self.open_recipe = QPushButton("Open recipe in the stack editor")
        self.open_run.clicked.connect(lambda: self._open(self.openRunRequested))
        self.open_recipe.clicked.connect(lambda: self._open(self.openRecipeRequested))
        self.trials.openRunRequested.connect(self.openRunRequested)
        self.trials.openRecipeRequested.connect(self.openRecipeRequested)
        self.trials.itemSelectionChanged.connect(self._update_buttons)
        trial_buttons = QHBoxLayout()
        trial_buttons.addStretch()
        trial_buttons.addWidget(self.open_run)
        trial_buttons.addWidget(self.open_recipe)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addLayout(saved_row)
        right_layout.addWidget(self.status)
        right_layout.addWidget(self.now)
        right_layout.addWidget(self.best)
        right_layout.addWidget(self.tabs, 1)
        right_layout.addLayout(trial_buttons)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        split.setSizes([440, 920])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._show_status)
        self.session.trialStarted.connect(lambda _: self._refresh_timer.start())
        self.session.trialStarted.connect(self._trial_started)
        self.session.trialFinished.connect(self._trial_finished)
        self.session.runEvent.connect(self._run_event)
        self.session.ended.connect(self._ended)
        self.session.failed.connect(lambda e: errors.show_error(self, "A study worker stopped", e.error, e.details))
        self._update_buttons()
        self.fill_saved()

    # -- the template -------------------------------------------------------------------
    def set_template(self, recipe: Recipe) -> None:
        """Set the study up from ``recipe`` (the current stack)."""
        self.setup.set_template(recipe)
        if self.report is None:  # no study drawn: the plot and the table name this recipe's task's figure
            self.pareto.set_task(recipe.task)
            self.trials.set_retained(retained_figure(recipe.task))
        self._update_buttons()

    def set_database(self, db_url: str) -> None:
        if not self.session.running:
            if db_url != self.db_url:
                self.session.study_id, self.report = None, None
            self.db_url = self.session.db_url = db_url
            self.fill_saved()

    def fill_saved(self) -> None:
        """List the studies of the database (the one followed now selected)."""
        try:
            studies = self.session.saved_studies()
        except Exception:  # no database (yet): nothing to list
            studies = []
        self.saved.blockSignals(True)
        self.saved.clear()
        self.saved.addItem("\u2014 pick a recorded study \u2014", None)
        for st in studies:
            self.saved.addItem(self._saved_label(st), st.id)
        index = self.saved.findData(self.session.study_id) if self.session.study_id else 0
        self.saved.setCurrentIndex(max(0, index))
        self.saved.blockSignals(False)

    def _saved_label(self, st) -> str:
        """A saved study's line: the followed one from its report (trials done, running or not), the others from
        the database's own count of trials started."""
        budget = st.max_trials or "\u221e"
        r = self.report
        if r is not None and r.study.id == st.id:
            status = "running" if self.session.running else r.study.status
            done = sum(n for s, n in r.counts.items() if s != "running")
            return f"{st.name} ({st.kind}, {status}, {done}/{budget} trials done, {st.short_id})"
        return f"{st.name} ({st.kind}, {st.status}, {st.claimed}/{budget} trials started, {st.short_id})"

    def _relabel_followed(self) -> None:
        """Keep the followed study's line in the saved list in step with its report (trials end, Resume)."""
        index = self.saved.findData(self.report.study.id) if self.report is not None else -1
        if index > 0:
            self.saved.setItemText(index, self._saved_label(self.report.study))

    def open_study(self, study_id: str) -> None:
        """Show a recorded study (Resume then restarts it if it was stopped)."""
        if self.session.running:
            return
        self.session.open(study_id)
        self._started_at = None
        self.refresh()
        self.fill_saved()

    @property
    def running(self) -> bool:
        return self.session.running

    # -- control ----------------------------------------------------------------------------
    def start(self) -> bool:
        """Record the study as set up and start its workers; False (with the problems shown) when it cannot."""
        if self.session.running:
            return False
        problems = self.setup.validate()
        if problems:
            return False
        try:
            spec = self.setup.spec()
            self.session.create(spec)
            self.session.start(self.setup.workers.value())
        except Exception as exc:  # a study file the spec refuses, a database that cannot be written: said in a dialog
            errors.report_exception(self, "The study cannot start", exc)
            return False
        self._began()
        self.fill_saved()
        return True

    def stop(self) -> None:
        self.session.stop()
        self.status.setText(self.status.text() + " \u2014 stopping\u2026")
        self.stop_button.setEnabled(False)

    def resume(self) -> bool:
        if self.session.running or self.session.study_id is None:
            return False
        try:
            self.session.start(self.setup.workers.value(), resume=True)
        except Exception as exc:  # as in start()
            errors.report_exception(self, "The study cannot resume", exc)
            return False
        self._began()
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop the study's workers and wait for them (the window closes); the study stays resumable."""
        self._clock.stop()
        self._refresh_timer.stop()
        if self.session.running:
            self.session.shutdown(timeout)
        self.session.close()

    def _began(self) -> None:
        self._started_at = time.monotonic()
        self._clock.start()
        self.fill_saved()  # a resumed study reads "running" in the list at once
        self.refresh()
        self._update_buttons()
        self.runningChanged.emit(True)

    # -- following it ----------------------------------------------------------------------------
    def _trial_started(self, event) -> None:
        if event.run_id:
            self._live[event.run_id] = {"trial": event.number, "label": event.label, "step": "", "done": ""}
            self._show_now()

    def _run_event(self, event) -> None:
        live = self._live.get(event.run_id)
        if live is None:
            return
        if isinstance(event, ev.RunStarted):
            live["steps"] = len(event.step_titles)
        elif isinstance(event, ev.StepStarted):
            live["step"] = f"step {event.index + 1}{'/' + str(live['steps']) if live.get('steps') else ''} " \
                           f"{event.title}"
            live["done"] = ""
        elif isinstance(event, ev.Progress) and event.total:
            live["done"] = f"{100 * event.current // event.total} %"
        else:
            return
        self._show_now()

    def _show_now(self) -> None:
        parts = []
        for live in sorted(self._live.values(), key=lambda x: x["trial"]):
            doing = ", ".join(p for p in (live["step"], live["done"]) if p) or "starting"
            parts.append(f"trial {live['trial'] + 1} ({live['label']}): {doing}")
        self.now.setText("Now: " + "; ".join(parts) if parts else "")
        self.now.setVisible(bool(parts))

    def _trial_finished(self, event) -> None:
        self._live.pop(event.run_id, None)
        self._show_now()
        self._refresh_timer.start()
        if event.run_id:
            self.runsChanged.emit()

    def _ended(self, status: str) -> None:
        self._clock.stop()
        self._live.clear()
        self._show_now()
        self.refresh()
        self._update_buttons()
        self.runsChanged.emit()
        self.runningChanged.emit(False)
        self.fill_saved()

    def refresh(self) -> None:
        """Re-read the study from the database and redraw every part."""
        try:
            self.report = self.session.report()
        except Exception as exc:  # a lost database: say so, keep the last picture
            self.status.setText(f"The study cannot be read back: {exc}")
            return
        if self.report is None:
            return
        r = self.report
        self.trials.show_trials(r.trials, r.best, r.retained)
        self.pareto.show_report(r)
        self.interaction.show_pairs(r.interaction, order_reasons(r) if r.spec.kind == "order" else None, r.headline)
        self.tabs.setTabEnabled(self.tabs.indexOf(self.interaction), r.spec.kind == "order")
        self._show_best()
        self._show_status()
        self._relabel_followed()
        self._update_buttons()

    def _show_best(self) -> None:
        r = self.report
        if r.best is None:
            self.best.setText("<span style='color:#6b7280'>Best so far: none yet</span>")
            return
        b = r.best
        parts = ", ".join(f"{name} {format_figure(key, b.figures.get(key))}" for key, name in
                          ((r.retained, _lower_first(figure_label(r.retained))), ("speedup", "speedup"),
                           ("size_ratio", "size ratio")))
        self.best.setText(f"<b>Best so far</b>: trial {b.number + 1}, {b.label} \u2014 score "
                          f"{format_score(b.value)} ({parts}); {len(r.pareto)} on the Pareto front")

    def _show_status(self) -> None:
        r = self.report
        if r is None:
            return
        counts = r.counts
        done = sum(n for s, n in counts.items() if s != "running")
        planned = r.study.max_trials
        what = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trial yet"
        elapsed = ""
        if self._started_at is not None and self.session.running:
            seconds = int(time.monotonic() - self._started_at)
            elapsed = f" \u2014 {seconds // 60}:{seconds % 60:02d} elapsed"
        status = "running" if self.session.running else r.study.status
        of = f" of {planned}" if planned else ""
        self.status.setText(f"<b>{r.study.name}</b> ({r.study.kind} study {r.study.id[:8]}, {status}): "
                            f"{done}{of} trials done ({what}){elapsed}")

    def _open_saved(self, index: int) -> None:
        study_id = self.saved.itemData(index)
        if study_id:
            self.open_study(study_id)

    def _open(self, signal) -> None:
        run_id = self.trials.selected_run_id()
        if run_id:
            signal.emit(run_id)

    def _update_buttons(self) -> None:
        running = self.session.running
        valid = not self.setup.current_problems and bool(self.setup.recipe.steps)
        self.start_button.setEnabled(valid and not running)
        self.stop_button.setEnabled(running)
        stoppable = self.report is not None and self.report.study.status in ("cancelled", "interrupted")
        self.resume_button.setEnabled(not running and self.session.study_id is not None and stoppable)
        self.from_stack.setEnabled(not running)
        self.saved.setEnabled(not running)
        self.setup.setEnabled(not running)
        has_run = self.trials.selected_run_id() is not None
        self.open_run.setEnabled(has_run)
        self.open_recipe.setEnabled(has_run)
