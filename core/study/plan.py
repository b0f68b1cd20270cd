"""The trials of an order or grid study, known before the first one runs.

Every trial is an ordinary recipe built from the template, so runs that share
leading steps (the teacher's fine-tune, then the same first method) share a
prefix the engine's step cache can reuse. An arrangement the stack validator
refuses (int8 before a pruning step, say) is still a trial: it is recorded as
skipped with the reason, so the interaction table can say why a cell is empty.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from core.applicability import recipe_problems
from core.recipe import NAME_LENGTH, Recipe
from core.study.spec import StudySpec, apply_variant

ELLIPSIS = "\u2026"


def fit(text: str, limit: int = NAME_LENGTH) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut (a trial's label, a run's name)."""
    return text if len(text) <= limit else text[:limit - 1] + ELLIPSIS


def trial_name(study_name: str, label: str) -> str:
    """The run name of a trial: ``study: label``, always within a run name's limit (:data:`NAME_LENGTH`).

    The label (what the trial varies) is kept whole where it fits; the study's name is shortened first.
    """
    label = fit(label, NAME_LENGTH // 2) if len(study_name) + len(label) + 2 > NAME_LENGTH else label
    room = NAME_LENGTH - len(label) - 2
    return f"{fit(study_name, room)}: {label}"


@dataclass(frozen=True)
class PlannedTrial:
    label: str
    recipe: Recipe
    params: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # why it cannot run; empty: it can


@dataclass
class Prepared:
    """A trial ready to run (what the study runner needs of any kind of study)."""

    label: str
    recipe: Recipe
    params: dict[str, Any]
    problems: tuple[str, ...] = ()
    optuna_trial: int | None = None
    handle: Any = None  # a search's Optuna trial


def trial_problems(recipe: Recipe) -> tuple[str, ...]:
    """Why a trial's recipe cannot run, as ``run`` would refuse it: the stack validator's problems, then the steps the
    model cannot take (:func:`core.applicability.recipe_problems`: a transformer-only step after a BiLSTM student)."""
    found = [str(p) for p in recipe.problems()]
    return tuple(found + [m for m in map(str, recipe_problems(recipe)) if m not in found])


def arrange(template: Recipe, chosen: tuple[int, ...], arrangement: tuple[int, ...]) -> Recipe:
    """The template with the ``chosen`` steps (1-based) replaced by ``arrangement`` (some of them, in this order).

    The chosen steps leave the stack and the arrangement goes where the first of them stood; the
    other steps keep their places.
    """
    recipe = template.copy()
    first = min(chosen)
    before = [s for i, s in enumerate(recipe.steps, 1) if i < first]
    after = [s for i, s in enumerate(recipe.steps, 1) if i > first and i not in chosen]
    recipe.steps = before + [recipe.steps[n - 1] for n in arrangement] + after
    return recipe


def order_label(template: Recipe, arrangement: tuple[int, ...]) -> str:
    return " -> ".join(template.steps[n - 1].title() for n in arrangement)


def order_arrangements(spec: StudySpec) -> list[tuple[int, ...]]:
    """Each chosen step alone, then every ordered pair, then (if asked) every order of all of them."""
    chosen = spec.order_steps
    out: list[tuple[int, ...]] = [(n,) for n in chosen]
    if spec.orders is not None:
        wanted = list(spec.orders)
    else:
        wanted = list(itertools.permutations(chosen, 2))
        if spec.full and len(chosen) > 2:
            wanted += list(itertools.permutations(chosen, len(chosen)))
    for order in wanted:
        if tuple(order) not in out:
            out.append(tuple(order))
    return out


def plan(spec: StudySpec) -> list[PlannedTrial]:
    if spec.kind == "order":
        trials = []
        for arrangement in order_arrangements(spec):
            recipe = arrange(spec.recipe, spec.order_steps, arrangement)
            label = order_label(spec.recipe, arrangement)
            recipe.name = trial_name(spec.name, label)
            trials.append(PlannedTrial(fit(label), recipe, {"order": list(arrangement)},
                                       trial_problems(recipe)))
        return trials
    if spec.kind == "grid":
        trials = []
        for variant in spec.variants:
            recipe = apply_variant(spec.recipe, variant["settings"], variant["skip"])
            recipe.name = trial_name(spec.name, variant["name"])
            params = {"settings": {str(k): v for k, v in variant["settings"].items()}, "skip": variant["skip"]}
            trials.append(PlannedTrial(fit(variant["name"]), recipe, params,
                                       trial_problems(recipe)))
        return trials
    raise ValueError(f"a {spec.kind} study has no fixed plan")
