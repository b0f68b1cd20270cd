"""The three kinds of study, each with the section of the study file that only it has.

- :class:`OrderStudy` (``order:``): which steps of the template to permute, and which orders to try;
- :class:`GridStudy` (``grid:``): named variants, each overriding settings and leaving steps out;
- :class:`SearchStudy` (``search:``): setting ranges and optional steps for Optuna to explore.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from core.registry import brief
from core.study.spec_base import StudySpec
from core.study.spec_fields import StepChecker, apply_variant, as_int, check_recipe

SAMPLERS = ("tpe", "nsga2")
PRUNERS = ("median", "none")
# Bounds on what a study file may ask for: each variant and each choice is checked against the method's rules
# before the study starts, so these keep that check (and the study) to seconds, not minutes.
MAX_VARIANTS = 1000  # variants of a grid study
MAX_CHOICES = 1000  # choices of one searched setting
MAX_PARAMS = 50  # searched settings of a search study


@dataclass
class OrderStudy(StudySpec):
    """Every order (or the listed ones) of 2 to 4 steps of the template."""

    kind: ClassVar[str] = "order"

    order_steps: tuple[int, ...] = ()
    orders: tuple[tuple[int, ...], ...] | None = None  # None: every order
    full: bool = True

    def read_section(self, raw: Any, step_no: StepChecker, problems: list[str]) -> None:
        if not isinstance(raw, dict):
            problems.append("order: missing; say which steps to permute, e.g. order: {steps: [2, 3]}")
            return
        for key in sorted(map(str, set(raw) - {"steps", "orders", "full"})):
            problems.append(f"order: unknown key {brief(key)} (known: full, orders, steps)")
        steps = raw.get("steps")
        if not isinstance(steps, list) or not 2 <= len(steps) <= 4:
            problems.append(f"order.steps: pick 2 to 4 steps of the template; got {brief(steps)}")
            return
        checked = [step_no(s, "order.steps") for s in steps]
        if None in checked:
            return
        if len(set(checked)) != len(checked):
            problems.append(f"order.steps: each step once; got {steps}")
            return
        self.order_steps = tuple(checked)
        orders = raw.get("orders", "all")
        if orders != "all":
            if not isinstance(orders, list) or not orders:
                problems.append(f"order.orders: 'all' or a list of orders such as [[2, 3], [3, 2]]; got {brief(orders)}")
            else:
                picked = []
                for i, order in enumerate(orders, 1):
                    if not isinstance(order, list) or len(order) < 2 \
                            or not all(isinstance(x, int) and not isinstance(x, bool) for x in order) \
                            or len(set(order)) != len(order) or not set(order) <= set(checked):
                        problems.append(f"order.orders[{i}]: an order of at least two of the chosen steps "
                                        f"{list(checked)}, each once; got {brief(order)}")
                    else:
                        picked.append(tuple(order))
                self.orders = tuple(picked)
        full = raw.get("full", True)
        if not isinstance(full, bool):
            problems.append(f"order.full: true or false; got {brief(full)}")
        self.full = bool(full)


@dataclass
class GridStudy(StudySpec):
    """A list of variants of the template: ``{name, settings: {step: {setting: value}}, skip: [steps]}``."""

    kind: ClassVar[str] = "grid"

    variants: tuple[dict[str, Any], ...] = ()

    def read_section(self, raw: Any, step_no: StepChecker, problems: list[str]) -> None:
        variants = raw.get("variants") if isinstance(raw, dict) else None
        if not isinstance(variants, list) or not variants:
            problems.append("grid.variants: a non-empty list of variants, e.g. [{name: light, settings: {2: {amount: 0.3}}}]")
            return
        if len(variants) > MAX_VARIANTS:
            problems.append(f"grid.variants: at most {MAX_VARIANTS} variants; got {len(variants):,}")
            return
        names = set()
        out = []
        for i, v in enumerate(variants, 1):
            where = f"grid.variants[{i}]"
            if not isinstance(v, dict):
                problems.append(f"{where}: must be a mapping with name, settings and skip")
                continue
            for key in sorted(map(str, set(v) - {"name", "settings", "skip"})):
                problems.append(f"{where}: unknown key {brief(key)} (known: name, settings, skip)")
            name = v.get("name") or f"variant {i}"
            if not isinstance(name, str) or len(name) > 200:
                problems.append(f"{where}.name: text of at most 200 characters; got {brief(name)}")
                name = f"variant {i}"
            if name in names:
                problems.append(f"{where}.name: {name!r} is used twice")
            names.add(name)
            clean = self._settings(v.get("settings") or {}, where, step_no, problems)
            skip = v.get("skip") or []
            if not isinstance(skip, list):
                problems.append(f"{where}.skip: a list of step numbers; got {skip!r}")
                skip = []
            skipped = [s for s in (step_no(x, f"{where}.skip") for x in skip) if s is not None]
            if self.recipe.steps:
                check_recipe(apply_variant(self.recipe, clean, skipped), where, problems)
            out.append({"name": name, "settings": clean, "skip": skipped})
        self.variants = tuple(out)

    @staticmethod
    def _settings(settings: Any, where: str, step_no: StepChecker, problems: list[str]) -> dict[int, dict]:
        clean: dict[int, dict] = {}
        if not isinstance(settings, dict):
            problems.append(f"{where}.settings: a mapping of step number to settings; got {settings!r}")
            return clean
        for key, values in settings.items():
            number = step_no(as_int(key), f"{where}.settings")
            if number is None:
                continue
            if not isinstance(values, dict):
                problems.append(f"{where}.settings.{key}: a mapping of setting names to values; got {values!r}")
                continue
            clean[number] = dict(values)
        return clean


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
class SearchStudy(StudySpec):
    """Optuna explores setting ranges and optional steps within a budget (trials and/or seconds)."""

    kind: ClassVar[str] = "search"
    budget_required: ClassVar[bool] = True

    params: tuple[Param, ...] = ()
    optional: tuple[int, ...] = ()
    sampler: str = "tpe"
    pruner: str = "median"

    def read_section(self, raw: Any, step_no: StepChecker, problems: list[str]) -> None:
        if not isinstance(raw, dict):
            problems.append("search: missing; give params (settings ranges) and/or optional steps")
            return
        for key in sorted(map(str, set(raw) - {"params", "optional", "sampler", "pruner"})):
            problems.append(f"search: unknown key {brief(key)} (known: optional, params, pruner, sampler)")
        params = raw.get("params") or []
        if not isinstance(params, list) or len(params) > MAX_PARAMS:
            problems.append(f"search.params: a list of at most {MAX_PARAMS} settings to search; got {brief(params)}")
            params = []
        self.params = tuple(p for p in (self._param(i, p, step_no, problems)
                                        for i, p in enumerate(params, 1)) if p is not None)
        optional = raw.get("optional") or []
        if not isinstance(optional, list):
            problems.append(f"search.optional: a list of step numbers; got {optional!r}")
            optional = []
        self.optional = tuple(s for s in (step_no(x, "search.optional") for x in optional) if s is not None)
        if not self.params and not self.optional:
            problems.append("search: nothing varies; give params (settings ranges) and/or optional steps")
        self.sampler = raw.get("sampler", "tpe")
        if not isinstance(self.sampler, str) or self.sampler not in SAMPLERS:
            problems.append(f"search.sampler: one of {', '.join(SAMPLERS)}; got {brief(self.sampler)}")
        self.pruner = raw.get("pruner", "median")
        if not isinstance(self.pruner, str) or self.pruner not in PRUNERS:
            problems.append(f"search.pruner: one of {', '.join(PRUNERS)}; got {brief(self.pruner)}")

    def space_size(self) -> int | None:
        """How many different trials the search space holds; None when a setting varies continuously."""
        size = 2 ** len(self.optional)
        for p in self.params:
            if p.kind == "float":
                return None
            size *= len(p.choices) if p.kind == "choice" else int(p.high) - int(p.low) + 1
        return size

    def describe_space(self) -> str:
        size = self.space_size()
        ranges = sum(p.kind != "choice" for p in self.params)
        choices = sum(len(p.choices) for p in self.params if p.kind == "choice")
        parts = [f"{len(self.params)} setting(s)"] + ([f"{choices:,} choice(s)"] if choices else []) + \
            ([f"{ranges} range(s)"] if ranges else []) + ([f"{len(self.optional)} optional step(s)"]
                                                          if self.optional else [])
        total = "continuous" if size is None else f"{size:,} combination(s)"
        return f"search space: {total} ({', '.join(parts)})"

    def _param(self, i: int, p: Any, step_no: StepChecker, problems: list[str]) -> Param | None:
        where = f"search.params[{i}]"
        if not isinstance(p, dict):
            problems.append(f"{where}: a mapping like {{step: 2, setting: amount, low: 0.2, high: 0.7}}")
            return None
        for key in sorted(map(str, set(p) - {"step", "setting", "low", "high", "choices", "log"})):
            problems.append(f"{where}: unknown key {brief(key)} (known: choices, high, log, low, setting, step)")
        number = step_no(p.get("step"), f"{where}.step")
        setting = p.get("setting")
        if not isinstance(setting, str) or not setting or len(setting) > 100:
            problems.append(f"{where}.setting: the name of one of the step's settings; got {brief(setting)}")
            return None
        if "choices" in p:
            choices = p["choices"]
            if not isinstance(choices, list) or not choices:
                problems.append(f"{where}.choices: a non-empty list; got {brief(choices)}")
                return None
            if len(choices) > MAX_CHOICES:
                problems.append(f"{where}.choices: at most {MAX_CHOICES} choices for one setting; got "
                                f"{len(choices):,} (give a range, low and high, instead)")
                return None
            odd = [c for c in choices if not (c is None or isinstance(c, (bool, int, str))
                                              or (isinstance(c, float) and math.isfinite(c)))]
            if odd:
                problems.append(f"{where}.choices: each choice is a number, text, true/false or null; "
                                f"got {brief(odd[0])}")
                return None
            param = Param(number or 0, setting, choices=tuple(choices))
        else:
            low, high, log = p.get("low"), p.get("high"), p.get("log", False)
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                       for x in (low, high)):
                problems.append(f"{where}: needs finite numbers low and high, or choices; "
                                f"got low={brief(low)}, high={brief(high)}")
                return None
            if low >= high:
                problems.append(f"{where}: low must be below high; got {low} and {high}")
                return None
            if not isinstance(log, bool) or (log and low <= 0):
                problems.append(f"{where}.log: true (a log scale, which needs low above 0) or false; got {brief(log)}")
                return None
            param = Param(number or 0, setting, low=low, high=high, log=log)
        if number is not None and self.recipe.steps:
            # Both ends (or every choice) must be valid settings of that step, checked by the method's own rules.
            values = param.choices if param.choices is not None else (param.low, param.high)
            for value in values:
                check_recipe(apply_variant(self.recipe, {number: {setting: value}}, []), where, problems)
        return param
