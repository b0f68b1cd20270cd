"""What every study shares, and the reading of a study file: the common fields, then the kind's own section.

:class:`StudySpec` is the base of the three kinds (:mod:`core.study.kinds`); ``StudySpec.from_dict`` reads
the shared fields and hands the section named by ``kind`` to that kind's type, which registers itself
here by subclassing. Import the kinds through :mod:`core.study.spec`, which loads them all.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.errors import RecipeError
from core.recipe import Recipe
from core.recipe_text import file_format, load_document, parse_document, problems_of
from core.registry import brief
from core.scoring import retained_figure
from core.study.spec_fields import (Constraint, StepChecker, StudyError, read_budget, read_constraints, read_name,
                                    read_objective, read_recipe, read_seed, step_checker)

FORMAT = "bert-studio-study"
FORMAT_VERSION = 1
KINDS = ("order", "grid", "search")
_TOP_KEYS = {"format", "version", "name", "kind", "recipe", "order", "grid", "search", "objective", "constraints",
             "budget", "seed"}
_TYPES: dict[str, type["StudySpec"]] = {}


@dataclass
class StudySpec:
    """A validated study file (see :mod:`core.study.spec`); each kind is a subclass with its own section."""

    kind: ClassVar[str] = ""  # the subclass's kind; "" only while a file with an unknown kind is being read
    budget_required: ClassVar[bool] = False  # a search must say when to stop

    name: str
    recipe: Recipe
    objective: Any = "accuracy_retained"
    constraints: tuple[Constraint, ...] = ()
    max_trials: int | None = None
    seconds: float | None = None
    seed: int = 0
    source: dict[str, Any] = field(default_factory=dict)  # the file as a mapping, recipe inlined

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _TYPES[cls.kind] = cls

    @property
    def multi_objective(self) -> bool:
        return isinstance(self.objective, list)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.source)

    def read_section(self, raw: Any, step_no: StepChecker, problems: list[str]) -> None:
        """Read the kind's own section (``order``, ``grid`` or ``search``) into this study."""

    # -- loading -----------------------------------------------------------------
    # Read through the studio's one guarded loader (core.recipe_text): bounded size, UTF-8, no key twice,
    # YAML aliases bounded (a "billion laughs" of a few lines is refused before it is built).
    @classmethod
    def load(cls, path: str | Path) -> "StudySpec":
        path = Path(path)
        try:
            data = load_document(path, "study file", file_format(path))
        except RecipeError as exc:
            raise StudyError(problems_of(exc)) from None
        return cls.from_dict(data, base=path.parent)

    @classmethod
    def from_text(cls, text: str, fmt: str = "yaml", base: Path | None = None) -> "StudySpec":
        try:
            data = parse_document(text, fmt, "study file")
        except RecipeError as exc:
            raise StudyError(problems_of(exc)) from None
        return cls.from_dict(data, base=base)

    @classmethod
    def from_dict(cls, data: Any, base: Path | None = None) -> "StudySpec":
        """The study of the kind ``data['kind']`` names (whichever class this is called on)."""
        if not isinstance(data, dict):
            raise StudyError("a study must be a mapping with 'kind', 'recipe' and what varies")
        problems: list[str] = []
        data = copy.deepcopy(data)
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            problems.append(f"format: must be {FORMAT!r}; got {brief(fmt)}")
        version = data.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            problems.append(f"version: must be a whole number; got {brief(version)}")
        elif version > FORMAT_VERSION:
            raise StudyError(f"version: study format version {version!r} is newer than this studio supports "
                             f"({FORMAT_VERSION})")
        for key in sorted(map(str, set(data) - _TOP_KEYS)):
            problems.append(f"unknown top-level key {brief(key)} (known: {', '.join(sorted(_TOP_KEYS))})")
        kind = data.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            problems.append(f"kind: must be one of {', '.join(KINDS)}; got {brief(kind)}")
        said = brief(kind)
        kind = kind if isinstance(kind, str) and kind in KINDS else None
        recipe = read_recipe(data.get("recipe"), base, problems)
        if recipe is not None:
            data["recipe"] = recipe.to_dict()
        kind_type = _TYPES.get(kind) if kind in KINDS else None
        name = read_name(data.get("name"), f"{kind or 'a'} study", problems)
        spec = (kind_type or StudySpec)(name=name, recipe=recipe or Recipe(), source=data)
        if kind_type is not None:
            step_no = step_checker(len(recipe.steps) if recipe is not None else None, problems)
            spec.read_section(data.get(kind), step_no, problems)
        for other in sorted(set(KINDS) - {kind}):
            if other in data:
                problems.append(f"{other}: only a {other} study has this section (kind is {said})")
        spec.objective = read_objective(data.get("objective", retained_figure(recipe.task if recipe else None)), problems)
        spec.constraints = tuple(read_constraints(data.get("constraints") or [], problems))
        _check_task_figures(spec, recipe.task if recipe else None, problems)
        spec.max_trials, spec.seconds = read_budget(data.get("budget"), spec.budget_required, problems)
        spec.seed = read_seed(data.get("seed", 0), problems)
        if problems:
            raise StudyError(problems)
        return spec


def _check_task_figures(spec: StudySpec, task: Any, problems: list[str]) -> None:
    """Constraints and objectives name figures the template's task records (not another task's)."""
    from core.scoring import task_figure_problem

    named = [(f"constraints[{i}]", c.figure) for i, c in enumerate(spec.constraints, 1)]
    objective = spec.objective
    if isinstance(objective, str):
        named.append(("objective", objective))
    elif isinstance(objective, list):
        named += [(f"objective[{i}]", item.get("figure")) for i, item in enumerate(objective, 1)]
    for where, figure in named:
        problem = task_figure_problem(figure, task)
        if problem:
            problems.append(f"{where}: {problem}")
