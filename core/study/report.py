"""What a study found: its trials with their runs' figures, the best run, the Pareto front, the interaction table.

Read from the experiment database at any moment (while workers run, the report covers the trials
ended so far), so the CLI's ``study show`` and the studio's Study view draw from one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.metrics.task_figures import headline_label, headline_of
from core.scoring import as_number, retained_figure, sort_key
from core.study.interaction import PairTable, pair_tables
from core.study.objective import Objective
from core.study.spec import StudySpec

DEFAULT_PARETO_AXES = (("accuracy_retained", "maximize"), ("speedup", "maximize"))


@dataclass(frozen=True)
class TrialView:
    """One trial as a report shows it."""

    number: int
    label: str
    status: str
    params: dict[str, Any]
    run_id: str | None
    value: float  # the study's score (NaN: none)
    figures: dict[str, Any] = field(default_factory=dict)  # its run's final figures ({} until it finished)
    feasible: bool = True  # every constraint holds (False also when it has no figures)
    note: str | None = None
    worker: str | None = None


@dataclass
class StudyReport:
    study: Any  # core.db.StudyRecord
    spec: StudySpec
    trials: list[TrialView]
    best: TrialView | None
    pareto: list[TrialView]
    pareto_axes: tuple[tuple[str, str], ...]
    interaction: list[PairTable]

    @property
    def headline(self) -> str:
        """The study task's headline figure (``accuracy``, ``entity_f1``, ``answer_f1``, ``pearson``, ``micro_f1``):
        the one its retained figure, Pareto axis and interaction drops are measured on."""
        return headline_of(self.spec.recipe.task)

    @property
    def headline_label(self) -> str:
        """``Accuracy``, ``Entity F1``..., as the CLI and the Study view name it."""
        return headline_label(self.headline)

    @property
    def retained(self) -> str:
        """The study task's retained figure (``accuracy_retained``, ``entity_f1_retained``...)."""
        return retained_figure(self.spec.recipe.task)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.status] = out.get(t.status, 0) + 1
        return out


def pareto_front(trials: list[TrialView], axes: tuple[tuple[str, str], ...]) -> list[TrialView]:
    """The trials no other trial beats on every axis (and strictly on one); NaN figures leave a trial out."""
    points = []
    for t in trials:
        values = []
        for name, direction in axes:
            v = _number(t.figures.get(name))
            if v is None:
                break
            values.append(v if direction == "maximize" else -v)
        else:
            points.append((t, values))
    front = []
    for t, p in points:
        dominated = any(all(a >= b for a, b in zip(q, p)) and any(a > b for a, b in zip(q, p)) for _, q in points)
        if not dominated:
            front.append(t)
    return sorted(front, key=lambda t: [-(_number(t.figures.get(axes[0][0])) or 0)])


def _number(value: Any) -> float | None:
    return as_number(value, finite=True)


def build_report(db_url_or_db, study_id: str) -> StudyReport:
    from core.db import Database, Repository, StudyRepository, open_database

    own = not isinstance(db_url_or_db, Database)
    db = open_database(db_url_or_db) if own else db_url_or_db
    try:
        record = StudyRepository(db).get_study(study_id)
        runs = Repository(db)
        spec = StudySpec.from_dict(record.spec)
        figures = {}
        for t in record.trials:
            if t.run_id and t.status == "finished":
                try:
                    figures[t.number] = dict(runs.get_run(t.run_id).figures or {})
                except KeyError:  # the run was deleted since
                    pass
    finally:
        if own:
            db.close()
    return assemble(record, spec, figures)


def assemble(record, spec: StudySpec, figures: Mapping[int, Mapping[str, Any]]) -> StudyReport:
    """The report from a study record and its finished trials' figures (by trial number)."""
    objective = Objective.of(spec)
    trials = []
    for t in record.trials:
        f = dict(figures.get(t.number, {}))
        feasible = bool(f) and all(c.holds(f) for c in spec.constraints)
        value = t.value
        if math.isnan(value) and f:
            value = objective.score(f)
        trials.append(TrialView(t.number, t.label, t.status, dict(t.params), t.run_id, value, f, feasible, t.note,
                                t.worker))
    done = [t for t in trials if t.status == "finished" and t.figures and t.feasible]
    ranked = sorted(done, key=lambda t: sort_key(t.value))
    best = ranked[0] if ranked and not math.isnan(ranked[0].value) else None
    axes = (tuple((o["figure"], o["direction"]) for o in spec.objective) if objective.multi
            else ((retained_figure(spec.recipe.task), "maximize"), *DEFAULT_PARETO_AXES[1:]))
    interaction: list[PairTable] = []
    if spec.kind == "order":
        labels = {n: spec.recipe.steps[n - 1].title() for n in spec.order_steps}
        by_order = {tuple(t.params.get("order", ())): t.figures for t in trials if t.status == "finished" and t.figures}
        interaction = pair_tables(labels, by_order, spec.order_steps, headline=headline_of(spec.recipe.task))
    return StudyReport(record, spec, trials, best, pareto_front(done, axes), axes, interaction)
