"""The parts of a study file every kind shares: its error, the template, step numbers, objective, constraints, budget.

Each reader appends what is wrong to ``problems`` (every problem names its field) and returns what it
could read, so a study file reports all its problems at once (:class:`StudyError`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core.errors import RecipeError, StudioError
from core.metrics.figures import supported_value
from core.recipe import Recipe
from core.recipe_parts import resolve_data_source
from core.registry import FieldInfo, brief, check_field, config_fields
from core.scoring import figure_problem
from core.study.objective import default_direction, score_problem

_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*(%?)\s*$")

StepChecker = Callable[[Any, str], "int | None"]

# A study's own typed fields, checked like a recipe's (core.registry.check_field): the name and seed are the
# recipe's own fields (a trial's run is named after the study and seeded by it); the budget's bounds only stop
# absurd values (a trial takes seconds at least; 1e15 seconds is 30 million years).
MAX_TRIALS = 10_000
MAX_SECONDS = 366 * 24 * 3600  # a year
_RECIPE_FIELDS = {info.name: info for info in config_fields(Recipe)}
NAME_FIELD = _RECIPE_FIELDS["name"]
SEED_FIELD = _RECIPE_FIELDS["seed"]
TRIALS_FIELD = FieldInfo("trials", int, None, "How many trials the study runs at most", "Trials", min=1,
                         max=MAX_TRIALS, optional=True)
SECONDS_FIELD = FieldInfo("seconds", float, None, "How long the study may run", "Seconds", min=0.001, max=MAX_SECONDS,
                          optional=True)


class StudyError(StudioError):
    """A study file is malformed; lists every problem, each naming its field."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("Invalid study:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class Constraint:
    """``figure op bound``, e.g. ``speedup >= 3``; a percent bound is read as a fraction (98 % -> 0.98)."""

    figure: str
    op: str
    bound: float

    def slack(self, figures: dict[str, float]) -> float:
        """Optuna's convention: <= 0 when satisfied, the violation otherwise (NaN figure: violated by 1).

        Judged on the end of the figure's 95 % confidence interval least favourable to the constraint
        (:func:`core.metrics.figures.supported_value`): a constraint holds when the whole interval meets it."""
        value = supported_value(figures, self.figure, self.op)
        if value is None:
            return 1.0
        return self.bound - value if self.op in (">=", ">") else value - self.bound

    def holds(self, figures: dict[str, float]) -> bool:
        value = supported_value(figures, self.figure, self.op)
        if value is None:
            return False
        return {">=": value >= self.bound, ">": value > self.bound, "<=": value <= self.bound,
                "<": value < self.bound}[self.op]

    def __str__(self) -> str:
        return f"{self.figure} {self.op} {self.bound:g}"


def read_recipe(raw: Any, base: Path | None, problems: list[str]) -> Recipe | None:
    """The template: a recipe file (relative to ``base``) or an inline recipe mapping."""
    if raw is None:
        problems.append("recipe: missing (a recipe file or an inline recipe mapping)")
        return None
    try:
        if isinstance(raw, str):
            path = Path(raw).expanduser()
            if not path.is_absolute() and base is not None:
                path = base / path
            return Recipe.load(path)
        if isinstance(raw, dict):  # an inline recipe's relative data path: beside the study file, as a recipe file's
            recipe = Recipe.from_dict(raw)
            recipe.data.source = resolve_data_source(recipe.data.source, base) if base else recipe.data.source
            return recipe
    except RecipeError as exc:
        problems.extend(f"recipe: {p}" for p in exc.problems)
        return None
    problems.append(f"recipe: must be a file path or a mapping; got {type(raw).__name__}")
    return None


def step_checker(n_steps: int | None, problems: list[str]) -> StepChecker:
    """A check of 1-based step numbers against a template of ``n_steps`` steps (None: the template is unknown)."""
    def check(value: Any, where: str) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where}: a step number (1-based) must be a whole number; got {value!r}")
            return None
        if n_steps is not None and not 1 <= value <= n_steps:
            problems.append(f"{where}: step {value} does not exist (the template has {n_steps} steps)")
            return None
        return value
    return check


def as_int(key: Any) -> Any:
    """A mapping key written as text ("2") as the step number it names."""
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    return key


def check_recipe(recipe: Recipe, where: str, problems: list[str]) -> None:
    problems.extend(f"{where}: {p}" for p in recipe.problems())


def apply_variant(template: Recipe, settings: dict[int, dict], skip: list[int] | tuple[int, ...]) -> Recipe:
    """The template with some steps' settings overridden and some steps left out (1-based numbers)."""
    recipe = template.copy()
    for number, values in settings.items():
        recipe.steps[number - 1].settings.update(values)
    recipe.steps = [s for i, s in enumerate(recipe.steps, 1) if i not in set(skip)]
    return recipe


def read_objective(raw: Any, problems: list[str]) -> Any:
    """A score spec (string or mapping, parsed by core.scoring) or a list of figures (several objectives)."""
    if isinstance(raw, list):
        out = []
        for i, item in enumerate(raw, 1):
            if isinstance(item, str):
                item = {"figure": item}
            if not isinstance(item, dict) or not isinstance(item.get("figure"), str) \
                    or item.get("direction", "maximize") not in ("maximize", "minimize"):
                problems.append(f"objective[{i}]: a figure name, or {{figure: latency_ms, direction: minimize}}; "
                                f"got {item!r}")
                continue
            problem = figure_problem(item["figure"])
            if problem:
                problems.append(f"objective[{i}]: {problem}")
                continue
            out.append({"figure": item["figure"], "direction": item.get("direction", default_direction(item["figure"]))})
        if len(out) < 2 and len(out) == len(raw):
            problems.append("objective: a list needs at least two figures (one figure: give it as a plain name)")
        return out
    if not isinstance(raw, (str, dict)):
        problems.append(f"objective: a score (formula, built-in name or mapping) or a list of figures; got {raw!r}")
        return "accuracy_retained"
    problem = score_problem(raw)
    if problem:
        problems.append(f"objective: {problem}")
    return raw


def read_constraints(raw: Any, problems: list[str]) -> list[Constraint]:
    if not isinstance(raw, list):
        problems.append(f"constraints: a list like ['speedup >= 3', 'accuracy_retained >= 98 %']; got {brief(raw)}")
        return []
    out = []
    for i, text in enumerate(raw, 1):
        match = _CONSTRAINT.match(text) if isinstance(text, str) and len(text) <= 200 else None
        if not match:
            problems.append(f"constraints[{i}]: write 'figure >= number' (or <=, >, <); got {brief(text)}")
            continue
        name, op, number, percent = match.groups()
        problem = figure_problem(name)
        if problem:
            problems.append(f"constraints[{i}]: {problem}")
            continue
        try:
            bound = float(number) / (100 if percent else 1)
        except ValueError:
            problems.append(f"constraints[{i}]: {number!r} is not a number")
            continue
        if not math.isfinite(bound):
            problems.append(f"constraints[{i}]: the bound must be a finite number; got {number!r}")
            continue
        out.append(Constraint(name, op, bound))
    return out


def read_name(raw: Any, default: str, problems: list[str]) -> str:
    """The study's name, checked as a run's name is (the recipe's ``name`` field): each trial's run is named after it."""
    if raw is None or raw == "":
        return default
    value, error = check_field(NAME_FIELD, raw)
    if error:
        problems.append(f"name: {error}")
        return default
    return value


def read_seed(raw: Any, problems: list[str]) -> int:
    value, error = check_field(SEED_FIELD, raw)
    if error:
        problems.append(f"seed: {error}")
        return 0
    return value


def read_budget(raw: Any, required: bool, problems: list[str]) -> tuple[int | None, float | None]:
    """``(trials, seconds)``; ``required``: the study needs at least one of them (a search)."""
    raw = raw or {}
    if not isinstance(raw, dict):
        problems.append(f"budget: a mapping like {{trials: 20, seconds: 3600}}; got {brief(raw)}")
        return None, None
    for key in sorted(set(map(str, raw)) - {"trials", "seconds"}):
        problems.append(f"budget: unknown key {brief(key)} (known: seconds, trials)")
    trials = seconds = None
    for info in (TRIALS_FIELD, SECONDS_FIELD):
        value, error = check_field(info, raw.get(info.name))  # YAML reads 1e15 as text: checked as the number
        if error:
            problems.append(f"budget.{info.name}: {error}")
        elif info is TRIALS_FIELD:
            trials = value
        else:
            seconds = value
    if required and trials is None and seconds is None and not any(p.startswith("budget") for p in problems):
        problems.append("budget: a search needs trials and/or seconds, e.g. budget: {trials: 20}")
    return trials, seconds
