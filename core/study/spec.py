"""The study file: a template recipe, what varies, an objective, constraints and a budget.

One versioned format (YAML or JSON, like recipes). Steps are named by their
1-based number in the template's stack, as recipe messages name them
("step 2 (prune.heads)"). Every problem is reported at once, each naming its
field: ``order.steps: step 7 does not exist (the template has 4 steps)``.

.. code-block:: yaml

    format: bert-studio-study
    version: 1
    name: heads, ffn and int8: does order matter?
    kind: order                  # order | grid | search
    recipe: ../recipes/x.yaml    # a recipe file (relative to this file) or an inline recipe mapping
    order: {steps: [2, 3, 4], orders: all, full: true}
    grid:  {variants: [{name: light, settings: {2: {amount: 0.3}}, skip: [4]}]}
    search:
      params: [{step: 2, setting: amount, low: 0.2, high: 0.7}, {step: 4, setting: bits, choices: [4, 8]}]
      optional: [4]              # steps that a trial may leave out
      sampler: tpe               # tpe | nsga2
      pruner: median             # median | none (stops trials losing on their validation curve)
    objective: accuracy_retained # a score (see core.scoring) or a list of figures (several objectives)
    constraints: ["speedup >= 3", "accuracy_retained >= 0.98"]
    budget: {trials: 20, seconds: 3600}
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import RecipeError, StudioError
from core.recipe import Recipe

FORMAT = "bert-studio-study"
FORMAT_VERSION = 1
KINDS = ("order", "grid", "search")
SAMPLERS = ("tpe", "nsga2")
PRUNERS = ("median", "none")
_TOP_KEYS = {"format", "version", "name", "kind", "recipe", "order", "grid", "search", "objective", "constraints",
             "budget", "seed"}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*(%?)\s*$")


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
        """Optuna's convention: <= 0 when satisfied, the violation otherwise (NaN figure: violated by 1)."""
        value = figures.get(self.figure)
        if value is None or value != value:
            return 1.0
        return self.bound - value if self.op in (">=", ">") else value - self.bound

    def holds(self, figures: dict[str, float]) -> bool:
        value = figures.get(self.figure)
        if value is None or value != value:
            return False
        return {">=": value >= self.bound, ">": value > self.bound, "<=": value <= self.bound,
                "<": value < self.bound}[self.op]

    def __str__(self) -> str:
        return f"{self.figure} {self.op} {self.bound:g}"


@dataclass(frozen=True)
class Param:
    """A searched setting of one template step: a float or int range, or a list of choices."""

    step: int  # 1-based
    setting: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    log: bool = False

    @property
    def kind(self) -> str:
        if self.choices is not None:
            return "choice"
        return "int" if isinstance(self.low, int) and isinstance(self.high, int) else "float"

    def name(self, method: str) -> str:
        return f"{self.step}.{method}.{self.setting}"


@dataclass
class StudySpec:
    """A validated study file (see the module docstring)."""

    name: str
    kind: str
    recipe: Recipe
    order_steps: tuple[int, ...] = ()
    orders: tuple[tuple[int, ...], ...] | None = None  # None: every order
    full: bool = True
    variants: tuple[dict[str, Any], ...] = ()
    params: tuple[Param, ...] = ()
    optional: tuple[int, ...] = ()
    sampler: str = "tpe"
    pruner: str = "median"
    objective: Any = "accuracy_retained"
    constraints: tuple[Constraint, ...] = ()
    max_trials: int | None = None
    seconds: float | None = None
    seed: int = 0
    source: dict[str, Any] = field(default_factory=dict)  # the file as a mapping, recipe inlined

    @property
    def multi_objective(self) -> bool:
        return isinstance(self.objective, list)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.source)

    # -- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "StudySpec":
        path = Path(path)
        if not path.is_file():
            raise StudyError(f"no study file at {path}")
        fmt = "json" if path.suffix.lower() == ".json" else "yaml"
        return cls.from_text(path.read_text(encoding="utf-8"), fmt, base=path.parent)

    @classmethod
    def from_text(cls, text: str, fmt: str = "yaml", base: Path | None = None) -> "StudySpec":
        try:
            data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise StudyError(f"the file is not valid {fmt.upper()}: {exc}") from None
        return cls.from_dict(data, base=base)

    @classmethod
    def from_dict(cls, data: Any, base: Path | None = None) -> "StudySpec":
        if not isinstance(data, dict):
            raise StudyError("a study must be a mapping with 'kind', 'recipe' and what varies")
        problems: list[str] = []
        data = copy.deepcopy(data)
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            problems.append(f"format: must be {FORMAT!r}; got {fmt!r}")
        version = data.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise StudyError(f"version: study format version {version!r} is newer than this studio supports "
                             f"({FORMAT_VERSION})")
        for key in sorted(set(data) - _TOP_KEYS):
            problems.append(f"unknown top-level key {key!r} (known: {', '.join(sorted(_TOP_KEYS))})")
        kind = data.get("kind")
        if kind not in KINDS:
            problems.append(f"kind: must be one of {', '.join(KINDS)}; got {kind!r}")
        recipe = _recipe(data.get("recipe"), base, problems)
        if recipe is not None:
            data["recipe"] = recipe.to_dict()
        spec = cls(name=str(data.get("name") or f"{kind} study"), kind=kind if kind in KINDS else "grid",
                   recipe=recipe or Recipe(), source=data)
        n_steps = len(recipe.steps) if recipe is not None else None
        step_no = _step_checker(n_steps, problems)
        if kind == "order":
            _order(spec, data.get("order"), step_no, problems)
        elif kind == "grid":
            _grid(spec, data.get("grid"), step_no, problems)
        elif kind == "search":
            _search(spec, data.get("search"), step_no, problems)
        for other in {"order", "grid", "search"} - {kind}:
            if other in data:
                problems.append(f"{other}: only a {other} study has this section (kind is {kind!r})")
        spec.objective = _objective(data.get("objective", "accuracy_retained"), problems)
        spec.constraints = tuple(_constraints(data.get("constraints") or [], problems))
        _budget(spec, data.get("budget"), problems)
        seed = data.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            problems.append(f"seed: must be a whole number; got {seed!r}")
        else:
            spec.seed = seed
        if problems:
            raise StudyError(problems)
        return spec


def _recipe(raw: Any, base: Path | None, problems: list[str]) -> Recipe | None:
    if raw is None:
        problems.append("recipe: missing (a recipe file or an inline recipe mapping)")
        return None
    try:
        if isinstance(raw, str):
            path = Path(raw).expanduser()
            if not path.is_absolute() and base is not None:
                path = base / path
            return Recipe.load(path)
        if isinstance(raw, dict):
            return Recipe.from_dict(raw)
    except RecipeError as exc:
        problems.extend(f"recipe: {p}" for p in exc.problems)
        return None
    problems.append(f"recipe: must be a file path or a mapping; got {type(raw).__name__}")
    return None


def _step_checker(n_steps: int | None, problems: list[str]):
    def check(value: Any, where: str) -> int | None:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where}: a step number (1-based) must be a whole number; got {value!r}")
            return None
        if n_steps is not None and not 1 <= value <= n_steps:
            problems.append(f"{where}: step {value} does not exist (the template has {n_steps} steps)")
            return None
        return value
    return check


def _order(spec: StudySpec, raw: Any, step_no, problems: list[str]) -> None:
    if not isinstance(raw, dict):
        problems.append("order: missing; say which steps to permute, e.g. order: {steps: [2, 3]}")
        return
    for key in sorted(set(raw) - {"steps", "orders", "full"}):
        problems.append(f"order: unknown key {key!r} (known: full, orders, steps)")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not 2 <= len(steps) <= 4:
        problems.append(f"order.steps: pick 2 to 4 steps of the template; got {steps!r}")
        return
    checked = [step_no(s, "order.steps") for s in steps]
    if None in checked:
        return
    if len(set(checked)) != len(checked):
        problems.append(f"order.steps: each step once; got {steps}")
        return
    spec.order_steps = tuple(checked)
    orders = raw.get("orders", "all")
    if orders != "all":
        if not isinstance(orders, list) or not orders:
            problems.append(f"order.orders: 'all' or a list of orders such as [[2, 3], [3, 2]]; got {orders!r}")
        else:
            picked = []
            for i, order in enumerate(orders, 1):
                if not isinstance(order, list) or len(order) < 2 or len(set(order)) != len(order) \
                        or not set(order) <= set(checked):
                    problems.append(f"order.orders[{i}]: an order of at least two of the chosen steps "
                                    f"{list(checked)}, each once; got {order!r}")
                else:
                    picked.append(tuple(order))
            spec.orders = tuple(picked)
    full = raw.get("full", True)
    if not isinstance(full, bool):
        problems.append(f"order.full: true or false; got {full!r}")
    spec.full = bool(full)


def _grid(spec: StudySpec, raw: Any, step_no, problems: list[str]) -> None:
    variants = raw.get("variants") if isinstance(raw, dict) else None
    if not isinstance(variants, list) or not variants:
        problems.append("grid.variants: a non-empty list of variants, e.g. [{name: light, settings: {2: {amount: 0.3}}}]")
        return
    names = set()
    out = []
    for i, v in enumerate(variants, 1):
        where = f"grid.variants[{i}]"
        if not isinstance(v, dict):
            problems.append(f"{where}: must be a mapping with name, settings and skip")
            continue
        for key in sorted(set(v) - {"name", "settings", "skip"}):
            problems.append(f"{where}: unknown key {key!r} (known: name, settings, skip)")
        name = str(v.get("name") or f"variant {i}")
        if name in names:
            problems.append(f"{where}.name: {name!r} is used twice")
        names.add(name)
        settings = v.get("settings") or {}
        clean: dict[int, dict] = {}
        if not isinstance(settings, dict):
            problems.append(f"{where}.settings: a mapping of step number to settings; got {settings!r}")
            settings = {}
        for key, values in settings.items():
            number = step_no(_as_int(key), f"{where}.settings")
            if number is None:
                continue
            if not isinstance(values, dict):
                problems.append(f"{where}.settings.{key}: a mapping of setting names to values; got {values!r}")
                continue
            clean[number] = dict(values)
        skip = v.get("skip") or []
        if not isinstance(skip, list):
            problems.append(f"{where}.skip: a list of step numbers; got {skip!r}")
            skip = []
        skipped = [s for s in (step_no(x, f"{where}.skip") for x in skip) if s is not None]
        variant = {"name": name, "settings": clean, "skip": skipped}
        if spec.recipe.steps:
            _check_recipe(apply_variant(spec.recipe, clean, skipped), where, problems)
        out.append(variant)
    spec.variants = tuple(out)


def _search(spec: StudySpec, raw: Any, step_no, problems: list[str]) -> None:
    if not isinstance(raw, dict):
        problems.append("search: missing; give params (settings ranges) and/or optional steps")
        return
    for key in sorted(set(raw) - {"params", "optional", "sampler", "pruner"}):
        problems.append(f"search: unknown key {key!r} (known: optional, params, pruner, sampler)")
    params = []
    for i, p in enumerate(raw.get("params") or [], 1):
        where = f"search.params[{i}]"
        if not isinstance(p, dict):
            problems.append(f"{where}: a mapping like {{step: 2, setting: amount, low: 0.2, high: 0.7}}")
            continue
        for key in sorted(set(p) - {"step", "setting", "low", "high", "choices", "log"}):
            problems.append(f"{where}: unknown key {key!r} (known: choices, high, log, low, setting, step)")
        number = step_no(p.get("step"), f"{where}.step")
        setting = p.get("setting")
        if not isinstance(setting, str):
            problems.append(f"{where}.setting: the name of one of the step's settings; got {setting!r}")
            continue
        if "choices" in p:
            choices = p["choices"]
            if not isinstance(choices, list) or not choices:
                problems.append(f"{where}.choices: a non-empty list; got {choices!r}")
                continue
            param = Param(number or 0, setting, choices=tuple(choices))
        else:
            low, high = p.get("low"), p.get("high")
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (low, high)):
                problems.append(f"{where}: needs numbers low and high, or choices; got low={low!r}, high={high!r}")
                continue
            if low >= high:
                problems.append(f"{where}: low must be below high; got {low} and {high}")
                continue
            param = Param(number or 0, setting, low=low, high=high, log=bool(p.get("log", False)))
        if number is not None and spec.recipe.steps:
            # Both ends (or every choice) must be valid settings of that step, checked by the method's own rules.
            values = param.choices if param.choices is not None else (param.low, param.high)
            for value in values:
                _check_recipe(apply_variant(spec.recipe, {number: {setting: value}}, []), where, problems)
        params.append(param)
    spec.params = tuple(params)
    optional = raw.get("optional") or []
    if not isinstance(optional, list):
        problems.append(f"search.optional: a list of step numbers; got {optional!r}")
        optional = []
    spec.optional = tuple(s for s in (step_no(x, "search.optional") for x in optional) if s is not None)
    if not spec.params and not spec.optional:
        problems.append("search: nothing varies; give params (settings ranges) and/or optional steps")
    spec.sampler = raw.get("sampler", "tpe")
    if spec.sampler not in SAMPLERS:
        problems.append(f"search.sampler: one of {', '.join(SAMPLERS)}; got {spec.sampler!r}")
    spec.pruner = raw.get("pruner", "median")
    if spec.pruner not in PRUNERS:
        problems.append(f"search.pruner: one of {', '.join(PRUNERS)}; got {spec.pruner!r}")


def _objective(raw: Any, problems: list[str]) -> Any:
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
            out.append({"figure": item["figure"], "direction": item.get("direction", "maximize")})
        if len(out) < 2 and len(out) == len(raw):
            problems.append("objective: a list needs at least two figures (one figure: give it as a plain name)")
        return out
    if not isinstance(raw, (str, dict)):
        problems.append(f"objective: a score (formula, built-in name or mapping) or a list of figures; got {raw!r}")
        return "accuracy_retained"
    from core.study.objective import score_problem

    problem = score_problem(raw)
    if problem:
        problems.append(f"objective: {problem}")
    return raw


def _constraints(raw: Any, problems: list[str]) -> list[Constraint]:
    if not isinstance(raw, list):
        problems.append(f"constraints: a list like ['speedup >= 3', 'accuracy_retained >= 98 %']; got {raw!r}")
        return []
    out = []
    for i, text in enumerate(raw, 1):
        match = _CONSTRAINT.match(str(text))
        if not match:
            problems.append(f"constraints[{i}]: write 'figure >= number' (or <=, >, <); got {text!r}")
            continue
        name, op, number, percent = match.groups()
        try:
            bound = float(number) / (100 if percent else 1)
        except ValueError:
            problems.append(f"constraints[{i}]: {number!r} is not a number")
            continue
        out.append(Constraint(name, op, bound))
    return out


def _budget(spec: StudySpec, raw: Any, problems: list[str]) -> None:
    raw = raw or {}
    if not isinstance(raw, dict):
        problems.append(f"budget: a mapping like {{trials: 20, seconds: 3600}}; got {raw!r}")
        return
    for key in sorted(set(raw) - {"trials", "seconds"}):
        problems.append(f"budget: unknown key {key!r} (known: seconds, trials)")
    trials, seconds = raw.get("trials"), raw.get("seconds")
    if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool) or trials < 1):
        problems.append(f"budget.trials: a whole number of at least 1; got {trials!r}")
        trials = None
    if seconds is not None and (not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0):
        problems.append(f"budget.seconds: a positive number of seconds; got {seconds!r}")
        seconds = None
    if spec.kind == "search" and trials is None and seconds is None and not any(p.startswith("budget")
                                                                                 for p in problems):
        problems.append("budget: a search needs trials and/or seconds, e.g. budget: {trials: 20}")
    spec.max_trials, spec.seconds = trials, seconds


def _as_int(key: Any) -> Any:
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    return key


def _check_recipe(recipe: Recipe, where: str, problems: list[str]) -> None:
    problems.extend(f"{where}: {p}" for p in recipe.problems())


def apply_variant(template: Recipe, settings: dict[int, dict], skip: list[int] | tuple[int, ...]) -> Recipe:
    """The template with some steps' settings overridden and some steps left out (1-based numbers)."""
    recipe = template.copy()
    for number, values in settings.items():
        recipe.steps[number - 1].settings.update(values)
    recipe.steps = [s for i, s in enumerate(recipe.steps, 1) if i not in set(skip)]
    return recipe
