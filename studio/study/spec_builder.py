"""The Study view's form as a study file mapping (Qt-free), validated by :mod:`core.study.spec`.

The view collects plain values (which steps, which ranges, which score); this module turns them into the
mapping :meth:`core.study.spec.StudySpec.from_dict` reads, so the view validates exactly what the CLI
would, and reports the score's own message (:mod:`core.scoring`) next to the score field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import StudioError
from core.metrics.task_figures import headline_label, headline_of
from core.recipe import Recipe
from core.registry import get_method
from core.scoring import retained_figure

# (label, what the objective is); "formula" and the floors take a value from the form.
SCORES = (
    ("Accuracy retained", "accuracy_retained"),
    ("Balanced: geometric mean of accuracy retained, speedup and size ratio", "geomean"),
    ("Fastest run keeping at least X % accuracy", "fastest"),
    ("Smallest run keeping at least X % accuracy", "smallest"),
    ("Pareto front: accuracy retained and speedup (NSGA-II)", "pareto"),
    ("Formula\u2026", "formula"),
)
WEIGHTED = ("accuracy_retained", "speedup", "size_ratio")


def score_labels(task: str | None = None) -> list[str]:
    """The score choices' labels, naming ``task``'s headline figure where they say accuracy (``Entity F1 retained``,
    ``Fastest run keeping at least X % of its entity F1``)."""
    if not task or headline_of(task) == "accuracy":
        return [label for label, _ in SCORES]
    name = headline_label(headline_of(task))
    lower = name[:1].lower() + name[1:]
    return [label.replace("Accuracy retained", f"{name} retained").replace("accuracy retained", f"{lower} retained")
            .replace("X % accuracy", f"X % of its {lower}") for label, _ in SCORES]


@dataclass
class ScoreChoice:
    kind: str = "accuracy_retained"  # a value of SCORES ("accuracy_retained": the task's retained figure)
    formula: str = ""
    floor_percent: float = 98.0
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(WEIGHTED, 1.0))
    task: str | None = None  # the template recipe's task: its retained figure stands in for accuracy_retained

    def objective(self) -> Any:
        if self.kind == "formula":
            return self.formula
        if self.kind == "geomean":  # the weight on accuracy retained is the task's retained figure's
            retained = retained_figure(self.task)
            return {"kind": "geomean", "weights": {retained if k == "accuracy_retained" else k: v
                                                   for k, v in self.weights.items()}}
        if self.kind in ("fastest", "smallest"):
            return {"kind": self.kind, "min_accuracy_retained": self.floor_percent / 100}
        if self.kind == "pareto":
            return [{"figure": retained_figure(self.task)}, {"figure": "speedup"}]
        return retained_figure(self.task) if self.kind == "accuracy_retained" else self.kind


def score_problem(choice: ScoreChoice) -> str | None:
    """Why the chosen score cannot be used (the scoring module's own words, naming the unknown name), or None."""
    if choice.kind == "pareto":
        return None
    from core.scoring import parse_score

    try:
        parse_score(choice.objective(), task=choice.task)
    except StudioError as exc:
        return str(exc)
    return None


@dataclass
class RangeRow:
    """One searched setting: ``low``/``high`` for a number, or ``choices`` (comma-separated text)."""

    step: int  # 1-based
    setting: str
    low: float | None = None
    high: float | None = None
    choices: str = ""

    def to_dict(self, recipe: Recipe) -> dict:
        out: dict[str, Any] = {"step": self.step, "setting": self.setting}
        if self.choices.strip():
            out["choices"] = [_literal(c) for c in self.choices.split(",") if c.strip()]
            return out
        info = _field(recipe, self.step, self.setting)
        as_int = info is not None and info.type is int
        out["low"] = int(self.low) if as_int and self.low is not None else self.low
        out["high"] = int(self.high) if as_int and self.high is not None else self.high
        return out


@dataclass
class GridRow:
    """One variant: ``settings`` as ``2.amount=0.3, 3.bits=4`` and steps to leave out as ``4`` or ``3, 4``."""

    name: str
    settings: str = ""
    skip: str = ""

    def to_dict(self) -> dict:
        settings: dict[int, dict] = {}
        for part in (p.strip() for p in self.settings.split(",")):
            if not part:
                continue
            key, _, value = part.partition("=")
            step, _, name = key.strip().partition(".")
            settings.setdefault(_literal(step), {})[name.strip()] = _literal(value)
        skip = [_literal(s) for s in self.skip.split(",") if s.strip()]
        return {"name": self.name, "settings": settings, "skip": skip}


@dataclass
class StudyForm:
    """Everything the Study view's form holds."""

    kind: str = "order"  # order | search | grid
    name: str = ""
    order_steps: list[int] = field(default_factory=list)
    ranges: list[RangeRow] = field(default_factory=list)
    optional: list[int] = field(default_factory=list)
    variants: list[GridRow] = field(default_factory=list)
    sampler: str = "tpe"
    constraints: list[str] = field(default_factory=list)
    score: ScoreChoice = field(default_factory=ScoreChoice)
    trials: int | None = None
    seconds: float | None = None

    def to_dict(self, recipe: Recipe) -> dict:
        out: dict[str, Any] = {"format": "bert-studio-study", "version": 1, "kind": self.kind,
                               "name": self.name.strip() or default_name(self.kind, recipe, self.order_steps),
                               "recipe": recipe.to_dict()}
        if self.kind == "order":
            out["order"] = {"steps": list(self.order_steps)}
        elif self.kind == "search":
            sampler = "nsga2" if self.score.kind == "pareto" else self.sampler
            out["search"] = {"params": [r.to_dict(recipe) for r in self.ranges], "optional": list(self.optional),
                             "sampler": sampler}
        else:
            out["grid"] = {"variants": [v.to_dict() for v in self.variants]}
        out["objective"] = self.score.objective()
        constraints = [c.strip() for c in self.constraints if c.strip()]
        if constraints:
            out["constraints"] = constraints
        budget = {}
        if self.trials:
            budget["trials"] = int(self.trials)
        if self.seconds:
            budget["seconds"] = float(self.seconds)
        if budget:
            out["budget"] = budget
        return out


def default_name(kind: str, recipe: Recipe, order_steps: list[int]) -> str:
    if kind == "order" and order_steps:
        titles = [recipe.steps[n - 1].title() for n in order_steps if 0 < n <= len(recipe.steps)]
        return f"order of {', '.join(titles)}"
    return f"{kind} study"


def _literal(text: str) -> Any:
    """``4`` -> 4, ``0.3`` -> 0.3, ``true`` -> True, anything else stays text."""
    text = text.strip()
    low = text.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _field(recipe: Recipe, step: int, setting: str):
    if not 0 < step <= len(recipe.steps):
        return None
    try:
        fields = get_method(recipe.steps[step - 1].method).fields()
    except Exception:  # an unknown method: the spec's validation names it
        return None
    return next((f for f in fields if f.name == setting), None)


def searchable_settings(recipe: Recipe, step: int) -> list:
    """The settings of a step a search can range over: numbers, and fields with choices or true/false."""
    if not 0 < step <= len(recipe.steps):
        return []
    try:
        fields = get_method(recipe.steps[step - 1].method).fields()
    except Exception:
        return []
    return [f for f in fields if f.choices or f.type in (int, float, bool)]
