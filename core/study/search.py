"""Search studies: Optuna proposes settings and optional steps; each proposal is an ordinary recipe.

Samplers: TPE (one objective) or NSGA-II (several, the answer is the Pareto front); constraints
go to the sampler through ``Trial.set_constraint`` (Optuna 5's replacement for ``constraints_func``;
<= 0 satisfied), one per constraint of the study, set on each finished trial before it is told. Pruning (median) stops trials whose validation accuracy
lags the median of earlier trials at the same point.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from core.recipe import Recipe
from core.study.plan import Prepared, fit, trial_name, trial_problems
from core.study.spec import StudySpec, apply_variant
from core.study.storage import close_storage, optuna_storage

FIGURES_ATTR = "figures"  # a finished trial's numeric figures, kept in Optuna's user attributes too


def sampler(spec: StudySpec):
    import optuna

    if spec.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=spec.seed, population_size=max(4, min(50, spec.max_trials or 50)))
    # Few trials on this machine: start modelling after a handful of random ones.
    return optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=min(10, max(2, (spec.max_trials or 20) // 3)))


def pruner(spec: StudySpec):
    import optuna

    if spec.pruner == "none" or spec.multi_objective:  # Optuna prunes single-objective studies only
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def suggest(trial, spec: StudySpec) -> tuple[Recipe, dict[str, Any], str]:
    """The recipe for an Optuna trial, the chosen values, and a short label."""
    settings: dict[int, dict] = {}
    params: dict[str, Any] = {}
    for p in spec.params:
        method = spec.recipe.steps[p.step - 1].method
        name = p.name(method)
        if p.kind == "choice":
            value = trial.suggest_categorical(name, list(p.choices))
        elif p.kind == "int":
            value = trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
        else:
            value = trial.suggest_float(name, float(p.low), float(p.high), log=p.log)
        settings.setdefault(p.step, {})[p.setting] = value
        params[name] = value
    skip = []
    for number in spec.optional:
        name = f"use.{number}.{spec.recipe.steps[number - 1].method}"
        use = trial.suggest_categorical(name, [True, False])
        params[name] = use
        if not use:
            skip.append(number)
    recipe = apply_variant(spec.recipe, settings, skip)
    label = ", ".join(f"{k.split('.', 1)[1]}={_short(v)}" for k, v in params.items())
    recipe.name = trial_name(spec.name, f"trial {trial.number}")
    return recipe, params, fit(label)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


# -- a search study's Optuna side (used by core.study.runner) ----------------------------------------
def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the runner reports trials itself
    return optuna


def create_optuna_study(spec: StudySpec, db_url: str, study_id: str):
    """Optuna's study for ``study_id`` (named so), in its own place beside the runs (core.study.storage)."""
    from core.study.objective import Objective

    optuna = _quiet_optuna()
    storage = optuna_storage(db_url)
    try:
        optuna.create_study(study_name=study_id, storage=storage, directions=Objective.of(spec).directions,
                            load_if_exists=True)
    finally:
        close_storage(storage)


class SearchTrials:
    """Each slot asks Optuna for a trial, runs its recipe, and tells Optuna the outcome."""

    def __init__(self, spec: StudySpec, db_url: str, study_id: str):
        from core.study.objective import Objective

        self.spec, self.db_url, self.study_id = spec, db_url, study_id
        self.objective = Objective.of(spec)
        self.prunes = spec.pruner != "none" and not spec.multi_objective
        self._study = None
        self._storage = None

    @property
    def storage(self):
        if self._storage is None:
            self._storage = optuna_storage(self.db_url)
        return self._storage

    def close(self) -> None:
        if self._storage is not None:
            close_storage(self._storage)
            self._storage = None
            self._study = None

    def _optuna_study(self, slot: int):
        if self._study is None:
            optuna = _quiet_optuna()
            # A seed of its own per worker (from its first slot): two workers never propose the same startup trials.
            own = dataclasses.replace(self.spec, seed=self.spec.seed + slot)
            self._study = optuna.load_study(study_name=self.study_id, storage=self.storage,
                                            sampler=sampler(own), pruner=pruner(own))
        return self._study

    def prepare(self, slot: int):
        trial = self._optuna_study(slot).ask()
        recipe, params, label = suggest(trial, self.spec)
        recipe.name = trial_name(self.spec.name, f"trial {slot + 1}")
        problems = trial_problems(recipe)
        return Prepared(label or f"trial {slot + 1}", recipe, params, problems, optuna_trial=trial.number,
                        handle=trial)

    def report(self, prepared, value: float, step: int) -> bool:
        """Report a point of the validation curve; True when Optuna says to stop this trial."""
        trial = prepared.handle
        trial.report(float(value), int(step))
        return bool(trial.should_prune())

    def finished(self, prepared, status: str, figures: dict) -> None:
        import math

        optuna = _quiet_optuna()
        study, trial = self._study, prepared.handle
        if status == "finished":
            values = self.objective.values(figures)
            for constraint in self.spec.constraints:
                trial.set_constraint(str(constraint), constraint.slack(figures))
            trial.set_user_attr(FIGURES_ATTR, {k: v for k, v in figures.items()
                                               if isinstance(v, (int, float)) and not isinstance(v, bool)
                                               and math.isfinite(v)})
            if all(math.isfinite(v) for v in values):
                study.tell(trial, values)
                return
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        elif status == "pruned":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def skipped(self, prepared) -> None:
        optuna = _quiet_optuna()
        self._study.tell(prepared.handle, state=optuna.trial.TrialState.FAIL)

    def interrupted(self, trial) -> None:
        """Another worker's trial went silent: Optuna marks it failed, so samplers stop waiting on it."""
        if trial.optuna_trial is None:
            return
        optuna = _quiet_optuna()
        try:
            study = self._study or optuna.load_study(study_name=self.study_id, storage=self.storage)
            study.tell(trial.optuna_trial, state=optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError):  # already finished or failed by another worker
            pass
