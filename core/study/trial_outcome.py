"""What a study's trial run comes to: the validation curve its pruner watches, the trial's status from the run's
result, and the run kept in a file when the database cannot take it (:mod:`core.db.pending`).

Qt-free helpers of :class:`core.study.runner.StudyRunner`, which owns the loop; kept apart so that the loop reads as
one page.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable

from core import events as ev
from core.db import pending
from core.db.outage import is_outage
from core.study.plan import Prepared

STOPPED_TRIAL = "stopped by the user"
PRUNE_METRIC = "val/accuracy"  # the validation curve the pruner watches in a sequence-classification study


def prune_metric(task) -> tuple[str, float]:
    """(the validation curve the pruner watches for ``task``, the sign that makes it higher-is-better): the task's
    headline (:func:`core.engine.training.validation_metric`); Optuna's study maximises, so a curve where smaller
    is better (:data:`core.metrics.figures.LOWER_IS_BETTER`) is reported negated."""
    from core.engine.training import validation_metric
    from core.metrics.figures import LOWER_IS_BETTER

    key = validation_metric(task or "sequence-classification")
    return key, (-1.0 if key.removeprefix("val/") in LOWER_IS_BETTER else 1.0)


def watch_pruning(bus: ev.EventBus, kind: Any, prepared: Prepared, run_id: str,
                  cancel: Callable[[], None]) -> tuple[Callable[[], None], threading.Event]:
    """Report the run's validation curve to the study's pruner; when it says the trial is losing, set the returned
    event and ``cancel()`` the run. Returns (unsubscribe, pruned)."""
    pruned = threading.Event()
    metric, sign = prune_metric(prepared.recipe.task)

    def on_metric(e: ev.Metric) -> None:
        try:
            losing = kind.report(prepared, sign * e.value, e.step)
        except Exception as exc:  # Optuna's storage is the same database: when it is away, no pruning
            if is_outage(exc):
                return
            raise
        if losing:
            pruned.set()
            cancel()

    unsubscribe = bus.subscribe(ev.Metric, on_metric, filter=lambda e: e.run_id == run_id and e.key == metric)
    return unsubscribe, pruned


def trial_status(result, pruned: bool) -> tuple[str, str | None]:
    """(the trial's status, its note) from its run's result (None: the run ended without one)."""
    if result is None:
        return "failed", "the run ended without a result"
    if result.status == "finished":
        return "finished", None
    if result.status == "cancelled":
        return ("pruned", "stopped early: losing on its validation curve") if pruned else ("cancelled", STOPPED_TRIAL)
    return "failed", result.error or "the run failed"


def pending_data(db_url: str, prepared: Prepared, result, artifacts: list[dict], started_at: float,
                 trial: dict | None = None) -> dict:
    """The trial's run as :mod:`core.db.pending` records it (``trial``: its study row, when kept for later)."""
    recipe = json.loads(json.dumps(prepared.recipe.to_dict(), default=str))
    return pending.pending_data(
        db_url, result.run_id, result.status, recipe=recipe, results=dict(result.results or {}),
        error=result.error or "", device=prepared.recipe.device,
        step_titles=tuple(step.title() for step in prepared.recipe.steps), artifacts=artifacts,
        started_at=started_at, study=trial)


def keep(db_url: str, prepared: Prepared, result, artifacts: list[dict], started_at: float, trial: dict) -> Path:
    """The trial's run, kept in a file the next command opening the database records (its trial too)."""
    data = pending_data(db_url, prepared, result, artifacts, started_at, trial)
    return pending.keep(data["database"], data["run_id"], data["status"], recipe=data["recipe"],
                        results=data["results"], error=data["error"], device=data["device"],
                        step_titles=tuple(data["step_titles"]), artifacts=data["artifacts"],
                        started_at=data["started_at"], study=trial)


def record_unrunnable(studies, bus: ev.EventBus, study_id: str, worker: str, slot: int, prepared: Prepared,
                      fresh: bool, status: str) -> None:
    """Record a trial that never ran (``skipped``: its recipe is refused; ``failed``: it could not be prepared),
    with the reasons as its note, and tell the bus."""
    note = "; ".join(prepared.problems)
    if fresh:
        studies.add_trial(study_id, slot, label=prepared.label, params=prepared.params, worker=worker, status=status,
                          note=note, optuna_trial=prepared.optuna_trial)
    else:
        studies.restart_trial(study_id, slot, label=prepared.label, params=prepared.params,
                              optuna_trial=prepared.optuna_trial)
        studies.end_trial(study_id, slot, status, note=note)
    bus.publish(ev.TrialStarted(study_id, number=slot, label=prepared.label, run_id=None, params=prepared.params))
    bus.publish(ev.TrialFinished(study_id, number=slot, label=prepared.label, run_id=None, status=status,
                                 value=float("nan"), figures={}, note=note))
