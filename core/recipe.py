"""The recipe: a model, a dataset and an ordered stack of method steps.

One format, versioned, shared by the studio, the command line and the database.
On disk it is YAML or JSON (chosen by the file's suffix); in memory it is plain
dataclasses that round-trip through :meth:`Recipe.to_dict` / :meth:`Recipe.from_dict`.

Every field is declared with :func:`core.registry.setting`, like a method's
settings, and checked by the same :func:`core.registry.check_field`: a wrong
type, a value out of range, NaN or infinity, a text too long is a
:class:`~core.errors.Problem` naming the field, before anything runs. Reading a
file is bounded too: its size, its aliases (a YAML "billion laughs" expands to
gigabytes from a few lines), its nesting; a key given twice is refused.

Here: the :class:`Recipe` and the reading of its fields; its parts (model, data, evaluation, step) are in
:mod:`core.recipe_parts`, the bounded reading of its text in :mod:`core.recipe_text`.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import Problem, RecipeError
from core.metrics.protocol import profile_problems
from core.recipe_parts import (COLUMN_LENGTH, MAX_STEPS, METHOD_LENGTH, NAME_LENGTH, SAMPLES_MAX, SEED_MAX,
                               SOURCE_LENGTH, DataRef, EvaluationSettings, ModelRef, Step, relative_data_source,
                               resolve_data_source, settings_problems, step_shape_problems)
from core.recipe_text import (MAX_ALIASES, MAX_EXPANDED, MAX_FILE_BYTES, file_format, key_text, parse_document,
                               read_text)
from core.registry import FieldInfo, brief, check_field, config_fields, setting

__all__ = ["COLUMN_LENGTH", "FORMAT_VERSION", "MAX_ALIASES", "MAX_EXPANDED", "MAX_FILE_BYTES", "MAX_STEPS",
           "METHOD_LENGTH", "NAME_LENGTH", "SAMPLES_MAX", "SEED_MAX", "SOURCE_LENGTH", "DataRef",
           "EvaluationSettings", "ModelRef", "Recipe", "Step", "TASKS"]

FORMAT_VERSION = 2
TASKS = ("sequence-classification", "token-classification", "question-answering", "regression", "multi-label")


def _from_v1(data: dict) -> dict:
    """Version 1 recipes knew one task: sentence (pair) classification."""
    data.setdefault("task", TASKS[0])
    return data


# version -> the function that brings a recipe of that version to the next one
MIGRATIONS = {1: _from_v1}


@dataclass
class Recipe:
    name: str = setting("untitled", "The run's name in the database", max=NAME_LENGTH)
    task: str = setting(TASKS[0], "What the model predicts: a class per sentence (pair), a tag per word, an answer "
                        "span, a number, or a set of labels", choices=TASKS)
    model: ModelRef = field(default_factory=ModelRef)
    data: DataRef = field(default_factory=DataRef)
    steps: list[Step] = field(default_factory=list)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    device: str = setting("auto", "auto, cpu, cuda or cuda:N", min=1, max=20)
    seed: int = setting(0, "Seed of the model's initialisation and of the training order", min=0, max=SEED_MAX)
    cache: bool = setting(True, "Start from the step cache when an earlier run computed the same leading steps "
                          "(false: compute every step, keep nothing)")
    version: int = FORMAT_VERSION

    # -- serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = "bert-studio-recipe"
        return d

    @classmethod
    def from_dict(cls, data: Any) -> "Recipe":
        """The recipe in ``data``; raises :class:`RecipeError` for anything wrong outside the steps' settings.

        Each field is typed and bounded here, so a recipe that loads has a model,
        data and evaluation the studio can show; the stack itself (methods,
        their settings, their order) is checked by :meth:`problems`.
        """
        if not isinstance(data, dict):
            raise RecipeError("a recipe must be a mapping with 'model', 'data' and 'steps'")
        data = copy.deepcopy(data)
        data.pop("format", None)
        version = data.pop("version", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise RecipeError(Problem(f"must be a whole number; got {brief(version)}", field="version"))
        if version > FORMAT_VERSION:
            raise RecipeError(f"recipe format version {version} is newer than this studio supports ({FORMAT_VERSION})")
        for old in range(version, FORMAT_VERSION):
            data = MIGRATIONS[old](data)
        problems: list[Problem] = []
        sections = {name: _read_section(name, data.pop(name, None), problems) for name in _SECTIONS}
        numbered = _read_steps(data.pop("steps", None), problems)
        header, header_problems = _typed(_header_fields(), data, "", what="top-level key", known=_TOP_LEVEL)
        problems += header_problems
        if not problems:
            recipe = cls(steps=[step for _, step in numbered], version=FORMAT_VERSION, **sections, **header)
            problems = recipe._rule_problems()
        if problems:  # with the steps' settings, so one reading shows everything
            raise RecipeError(problems + [p for index, step in numbered for p in settings_problems(index, step)[1]])
        return recipe

    def to_text(self, fmt: str = "yaml") -> str:
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2)
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_text(cls, text: str, fmt: str = "yaml") -> "Recipe":
        return cls.from_dict(parse_document(text, fmt, "recipe"))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        fmt = "json" if path.suffix.lower() == ".json" else "yaml"
        saved = self.copy()
        saved.data.source = relative_data_source(self.data.source, path.parent)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(saved.to_text(fmt), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Recipe":
        """The recipe in the file at ``path``, read through the one guarded loader (:mod:`core.recipe_text`); a
        relative data path is read against the file's folder (:func:`~core.recipe_parts.resolve_data_source`)."""
        recipe = cls.from_text(read_text(path, "recipe file"), file_format(path))
        recipe.data.source = resolve_data_source(recipe.data.source, Path(path).expanduser().parent)
        return recipe

    def copy(self) -> "Recipe":
        return copy.deepcopy(self)

    # -- validation ----------------------------------------------------
    def problems(self) -> list[Problem]:
        """Every problem of the recipe: its fields, then each step's method, settings and place in the stack."""
        out = self._field_problems()
        frozen_by: str | None = None
        for index, step in enumerate(self.steps):
            shape = step_shape_problems(index, step.method, step.settings, step.label)
            if shape:
                out += shape
                continue
            spec, found = settings_problems(index, step)
            out += found
            if spec is None:
                continue
            if frozen_by and not spec.accepts_frozen:
                if spec.trains:
                    out.append(Problem(
                        f"cannot train after {frozen_by}, which converts the model to integer weights; "
                        f"move it before that step (or use quant.qat to train with quantization)",
                        step=index, method=step.method))
                else:
                    out.append(Problem(f"cannot run after {frozen_by}, which converts the model to integer weights; "
                                       f"move it before that step", step=index, method=step.method))
            if spec.freezes:
                frozen_by = f"step {index + 1} ({step.method})"
        return out

    def validate(self) -> "Recipe":
        problems = self.problems()
        if problems:
            raise RecipeError(problems)
        return self

    def _field_problems(self) -> list[Problem]:
        """The recipe's own fields (name, device, seed, model, data, evaluation) as they are now."""
        out: list[Problem] = []
        _, found = _typed(_header_fields(), {k: getattr(self, k) for k in _HEADER}, "")
        out += found
        for name, cls in _SECTIONS.items():
            section = getattr(self, name)
            if not isinstance(section, cls):
                out.append(Problem(f"must be a {cls.__name__}; got {brief(section)}", field=name))
                continue
            _, found = _typed(_fields(cls), asdict(section), f"{name}.")
            out += found
        if not isinstance(self.steps, list):
            out.append(Problem("must be a list of steps", field="steps"))
        elif len(self.steps) > MAX_STEPS:
            out.append(Problem(f"at most {MAX_STEPS} steps; got {len(self.steps)}", field="steps"))
        return out or self._rule_problems()

    def _rule_problems(self) -> list[Problem]:
        """Checks beyond a field's type and range (the fields are typed already)."""
        out = []
        if not re.fullmatch(r"auto|cpu|cuda(:\d{1,2})?", self.device):
            out.append(Problem(f"must be auto, cpu, cuda or cuda:N; got {brief(self.device)}", field="device"))
        where = "evaluation, field 'latency_profiles': "  # profile_problems' prefix; here the field says where
        out += [Problem(p.removeprefix(where), field="evaluation.latency_profiles")
                for p in profile_problems(self.evaluation.latency_profiles)]
        data = self.data
        if self.task == "question-answering" and data.doc_stride >= data.max_length:
            out.append(Problem(f"must be below max_length ({data.max_length}): each window of a long context moves "
                               f"on by max_length - doc_stride tokens; got {data.doc_stride}", field="data.doc_stride"))
        if self.task == "multi-label" and len(data.label_columns) == 1:
            out.append(Problem("needs two or more 0/1 columns, or none (label_column then holds each row's label "
                               f"list); got {brief(data.label_columns)}", field="data.label_columns"))
        if len(set(data.label_columns)) != len(data.label_columns):
            out.append(Problem(f"names a column twice: {brief(data.label_columns)}", field="data.label_columns"))
        return out

# -- reading the parts of a recipe ---------------------------------------------
_SECTIONS = {"model": ModelRef, "data": DataRef, "evaluation": EvaluationSettings}
_HEADER = ("name", "task", "device", "seed", "cache")
_TOP_LEVEL = ("name", "task", "model", "data", "steps", "evaluation", "device", "seed", "cache", "version")


@functools.cache
def _fields(cls: type) -> dict[str, FieldInfo]:
    return {info.name: info for info in config_fields(cls)}


def _header_fields() -> dict[str, FieldInfo]:
    return {name: info for name, info in _fields(Recipe).items() if name in _HEADER}


def _typed(infos: dict[str, FieldInfo], raw: dict, prefix: str, what: str = "key",
           known: tuple[str, ...] | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """Check each value of ``raw`` against its field; returns the good values, coerced, and the problems."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, value in raw.items():
        info = infos.get(key) if isinstance(key, str) else None
        if info is None:
            problems.append(Problem(f"unknown {what} (known: {', '.join(known or infos)})",
                                    field=prefix + key_text(key)))
            continue
        value, error = check_field(info, value)
        if error:
            problems.append(Problem(error, field=prefix + key))
        else:
            values[key] = value
    return values, problems


def _read_section(name: str, raw: Any, problems: list[Problem]):
    cls = _SECTIONS[name]
    if raw is None:
        raw = {}
    if isinstance(raw, str) and "source" in _fields(cls):
        raw = {"source": raw}
    if not isinstance(raw, dict):
        problems.append(Problem(f"must be a mapping; got {brief(raw)}", field=name))
        return cls()
    values, found = _typed(_fields(cls), raw, f"{name}.")
    problems += found
    return cls(**values)


def _read_steps(raw: Any, problems: list[Problem]) -> list[tuple[int, Step]]:
    """The well-formed steps of ``raw`` with their index in it; the problems of the others."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(Problem(f"must be a list of steps; got {brief(raw)}", field="steps"))
        return []
    if len(raw) > MAX_STEPS:
        problems.append(Problem(f"at most {MAX_STEPS} steps; got {len(raw)}", field="steps"))
        return []
    steps: list[tuple[int, Step]] = []
    for index, item in enumerate(raw):
        if isinstance(item, str):
            item = {"method": item}
        if not isinstance(item, dict) or "method" not in item:
            problems.append(Problem(f"needs a 'method'; got {brief(item)}", step=index))
            continue
        extra = [k for k in item if k not in ("method", "settings", "label")]
        if extra:
            problems.append(Problem(f"unknown keys {brief(extra)} (known: method, settings, label)", step=index))
        settings = {} if item.get("settings") is None else item["settings"]
        found = step_shape_problems(index, item["method"], settings, item.get("label"))
        problems += found
        if not found:
            steps.append((index, Step(item["method"], dict(settings), item.get("label"))))
    return steps
