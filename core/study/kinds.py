"""The three kinds of study, each with the section of the study file that only it has.

- :class:`OrderStudy` (``order:``): which steps of the template to permute, and which orders to try;
- :class:`GridStudy` (``grid:``): named variants, each overriding settings and leaving steps out;
- :class:`SearchStudy` (``search:``): setting ranges and optional steps for Optuna to explore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from core.study.spec_base import StudySpec
from core.study.spec_fields import StepChecker, apply_variant, as_int, check_recipe

SAMPLERS = ("tpe", "nsga2")
PRUNERS = ("median", "none")


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
        self.order_steps = tuple(checked)
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
                self.orders = tuple(picked)
        full = raw.get("full", True)
        if not isinstance(full, bool):
            problems.append(f"order.full: true or false; got {full!r}")
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
        for key in sorted(set(raw) - {"params", "optional", "sampler", "pruner"}):
            problems.append(f"search: unknown key {key!r} (known: optional, params, pruner, sampler)")
        self.params = tuple(p for p in (self._param(i, p, step_no, problems)
                                        for i, p in enumerate(raw.get("params") or [], 1)) if p is not None)
        optional = raw.get("optional") or []
        if not isinstance(optional, list):
            problems.append(f"search.optional: a list of step numbers; got {optional!r}")
            optional = []
        self.optional = tuple(s for s in (step_no(x, "search.optional") for x in optional) if s is not None)
        if not self.params and not self.optional:
            problems.append("search: nothing varies; give params (settings ranges) and/or optional steps")
        self.sampler = raw.get("sampler", "tpe")
        if self.sampler not in SAMPLERS:
            problems.append(f"search.sampler: one of {', '.join(SAMPLERS)}; got {self.sampler!r}")
        self.pruner = raw.get("pruner", "median")
        if self.pruner not in PRUNERS:
            problems.append(f"search.pruner: one of {', '.join(PRUNERS)}; got {self.pruner!r}")

    def _param(self, i: int, p: Any, step_no: StepChecker, problems: list[str]) -> Param | None:
        where = f"search.params[{i}]"
        if not isinstance(p, dict):
            problems.append(f"{where}: a mapping like {{step: 2, setting: amount, low: 0.2, high: 0.7}}")
            return None
        for key in sorted(set(p) - {"step", "setting", "low", "high", "choices", "log"}):
            problems.append(f"{where}: unknown key {key!r} (known: choices, high, log, low, setting, step)")
        number = step_no(p.get("step"), f"{where}.step")
        setting = p.get("setting")
        if not isinstance(setting, str):
            problems.append(f"{where}.setting: the name of one of the step's settings; got {setting!r}")
            return None
        if "choices" in p:
            choices = p["choices"]
            if not isinstance(choices, list) or not choices:
                problems.append(f"{where}.choices: a non-empty list; got {choices!r}")
                return None
            param = Param(number or 0, setting, choices=tuple(choices))
        else:
            low, high = p.get("low"), p.get("high")
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (low, high)):
                problems.append(f"{where}: needs numbers low and high, or choices; got low={low!r}, high={high!r}")
                return None
            if low >= high:
                problems.append(f"{where}: low must be below high; got {low} and {high}")
                return None
            param = Param(number or 0, setting, low=low, high=high, log=bool(p.get("log", False)))
        if number is not None and self.recipe.steps:
            # Both ends (or every choice) must be valid settings of that step, checked by the method's own rules.
            values = param.choices if param.choices is not None else (param.low, param.high)
            for value in values:
                check_recipe(apply_variant(self.recipe, {number: {setting: value}}, []), where, problems)
        return param
