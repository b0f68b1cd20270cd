"""Search studies: Optuna proposes settings and optional steps; each proposal is an ordinary recipe.

Samplers: TPE (one objective) or NSGA-II (several, the answer is the Pareto front); constraints
go to the sampler as Optuna's ``constraints_func`` (<= 0 satisfied), read from the values the
runner stores on each finished trial. Pruning (median) stops trials whose validation accuracy
lags the median of earlier trials at the same point.
"""

from __future__ import annotations

import warnings
from typing import Any

from core.recipe import Recipe
from core.study.spec import StudySpec, apply_variant

CONSTRAINTS_ATTR = "constraints"
FIGURES_ATTR = "figures"


def _constraints(frozen) -> list[float]:
    return list(frozen.user_attrs.get(CONSTRAINTS_ATTR, [0.0]))


def sampler(spec: StudySpec):
    import optuna

    constraints = _constraints if spec.constraints else None
    with warnings.catch_warnings():
        # constraints_func is marked experimental in Optuna; the studio relies only on its documented contract.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if spec.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=spec.seed, constraints_func=constraints,
                                                 population_size=max(4, min(50, spec.max_trials or 50)))
        # Few trials on this machine: start modelling after a handful of random ones.
        return optuna.samplers.TPESampler(seed=spec.seed, constraints_func=constraints,
                                          n_startup_trials=min(10, max(2, (spec.max_trials or 20) // 3)))


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
    recipe.name = f"{spec.name}: trial {trial.number}"
    return recipe, params, label[:200]


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
