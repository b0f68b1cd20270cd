"""The recipe: a model, a dataset and an ordered stack of method steps.

One format, versioned, shared by the studio, the command line and the database.
On disk it is YAML or JSON (chosen by the file's suffix); in memory it is plain
dataclasses that round-trip through :meth:`Recipe.to_dict` / :meth:`Recipe.from_dict`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from core.errors import RecipeError

FORMAT_VERSION = 1


@dataclass
class ModelRef:
    """Where the model comes from: ``default`` (embedded MiniLM), ``tiny`` (random, for tests), a folder or a hub name."""

    source: str = "default"


@dataclass
class DataRef:
    """Where the data comes from and how its columns map onto the task."""

    source: str = "default"
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    max_length: int = 64
    train_samples: int | None = None
    validation_samples: int | None = None
    test_samples: int | None = None
    seed: int = 0


@dataclass
class EvaluationSettings:
    """The evaluation done before the first step and after the last."""

    split: str = "test"
    max_samples: int | None = None
    batch_size: int = 64
    latency_batch_size: int = 32
    latency_repeats: int = 5
    measure_baseline: bool = True


@dataclass
class Step:
    """One method in the stack with its settings (plain data; see :func:`Step.config`)."""

    method: str
    settings: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    def spec(self):
        from core.registry import get_method

        return get_method(self.method)

    def config(self):
        from core.registry import build_config

        cfg, errors = build_config(self.spec().config_cls, self.settings)
        if errors:
            raise RecipeError([f"{self.method}.{f}: {m}" for f, m in errors])
        return cfg

    def title(self) -> str:
        return self.label or self.spec().title


@dataclass
class Recipe:
    name: str = "untitled"
    model: ModelRef = field(default_factory=ModelRef)
    data: DataRef = field(default_factory=DataRef)
    steps: list[Step] = field(default_factory=list)
    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    device: str = "auto"
    seed: int = 0
    version: int = FORMAT_VERSION

    # -- serialisation -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["format"] = "bert-studio-recipe"
        return d

    @classmethod
    def from_dict(cls, data: Any) -> "Recipe":
        if not isinstance(data, dict):
            raise RecipeError("a recipe must be a mapping with 'model', 'data' and 'steps'")
        data = copy.deepcopy(data)
        data.pop("format", None)
        version = data.pop("version", FORMAT_VERSION)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RecipeError(f"recipe format version {version!r} is newer than this studio supports ({FORMAT_VERSION})")
        problems: list[str] = []
        model = _section(ModelRef, data.pop("model", {}), "model", problems)
        dataref = _section(DataRef, data.pop("data", {}), "data", problems)
        evaluation = _section(EvaluationSettings, data.pop("evaluation", {}), "evaluation", problems)
        raw_steps = data.pop("steps", [])
        steps: list[Step] = []
        if not isinstance(raw_steps, list):
            problems.append("steps: must be a list of steps")
            raw_steps = []
        for i, raw in enumerate(raw_steps, 1):
            if isinstance(raw, str):
                raw = {"method": raw}
            if not isinstance(raw, dict) or "method" not in raw:
                problems.append(f"step {i}: needs a 'method'")
                continue
            extra = set(raw) - {"method", "settings", "label"}
            if extra:
                problems.append(f"step {i}: unknown keys {sorted(extra)}")
            settings = raw.get("settings") or {}
            if not isinstance(settings, dict):
                problems.append(f"step {i} ({raw['method']}): settings must be a mapping")
                settings = {}
            steps.append(Step(str(raw["method"]), dict(settings), raw.get("label")))
        known = {f.name for f in fields(cls)} - {"model", "data", "steps", "evaluation", "version"}
        for key in list(data):
            if key not in known:
                problems.append(f"unknown top-level key {key!r}")
                data.pop(key)
        if problems:
            raise RecipeError(problems)
        return cls(model=model, data=dataref, steps=steps, evaluation=evaluation, version=FORMAT_VERSION, **data)

    def to_text(self, fmt: str = "yaml") -> str:
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2)
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_text(cls, text: str, fmt: str = "yaml") -> "Recipe":
        try:
            data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise RecipeError(f"the file is not valid {fmt.upper()}: {exc}") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        fmt = "json" if path.suffix.lower() == ".json" else "yaml"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_text(fmt), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Recipe":
        path = Path(path)
        if not path.is_file():
            raise RecipeError(f"no recipe file at {path}")
        fmt = "json" if path.suffix.lower() == ".json" else "yaml"
        recipe = cls.from_text(path.read_text(encoding="utf-8"), fmt)
        return recipe

    def copy(self) -> "Recipe":
        return Recipe.from_dict(self.to_dict())

    # -- validation ----------------------------------------------------
    def problems(self) -> list[str]:
        """Every problem with the stack, each naming the step and field."""
        from core.registry import build_config, get_method

        out: list[str] = []
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            out.append(f"device: must be auto, cpu or cuda; got {self.device!r}")
        frozen_by: str | None = None
        for i, step in enumerate(self.steps, 1):
            where = f"step {i} ({step.method})"
            try:
                spec = get_method(step.method)
            except KeyError as exc:
                out.append(f"{where}: {exc.args[0]}")
                continue
            _, errors = build_config(spec.config_cls, step.settings)
            out.extend(f"{where}, field '{f}': {m}" for f, m in errors)
            if frozen_by and not spec.accepts_frozen:
                if spec.trains:
                    out.append(
                        f"{where}: cannot train after {frozen_by}, which converts the model to integer weights; "
                        f"move it before that step (or use quant.qat to train with quantization)"
                    )
                else:
                    out.append(f"{where}: cannot run after {frozen_by}, which converts the model to integer weights; "
                               f"move it before that step")
            if spec.freezes:
                frozen_by = f"step {i} ({step.method})"
        return out

    def validate(self) -> "Recipe":
        problems = self.problems()
        if problems:
            raise RecipeError(problems)
        return self


def _section(cls, raw: Any, name: str, problems: list[str]):
    if raw is None:
        raw = {}
    if isinstance(raw, str) and cls is not EvaluationSettings:
        raw = {"source": raw}
    if not isinstance(raw, dict):
        problems.append(f"{name}: must be a mapping")
        return cls()
    names = {f.name for f in fields(cls)}
    unknown = set(raw) - names
    if unknown:
        problems.append(f"{name}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(names))})")
    return cls(**{k: v for k, v in raw.items() if k in names})
