"""The parts of a recipe: where the model and the data come from, how the result is evaluated, the steps.

Each part is a dataclass whose fields are declared with :func:`core.registry.setting` (type, range, help),
so :mod:`core.recipe` checks them as it checks a method's settings; a step is checked here, first its own
shape (method name, label, settings mapping), then its settings against its method's configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import Problem, RecipeError
from core.registry import FieldInfo, brief, build_config, check_field, get_method, setting

MAX_STEPS = 200
NAME_LENGTH = 200  # the database's run name column
SOURCE_LENGTH = 500  # the database's model and data source columns
COLUMN_LENGTH = 200
METHOD_LENGTH = 100
SEED_MAX = 2**32 - 1  # numpy, which splits the data, takes seeds up to here
SAMPLES_MAX = 10_000_000


@dataclass
class ModelRef:
    """Where the model comes from: ``default`` (embedded MiniLM), ``tiny`` (random, for tests), a folder or a hub name."""

    source: str = setting("default", "default (the embedded MiniLM), tiny (random, for tests), a model folder, "
                                     "or a hub name (online only)", min=1, max=SOURCE_LENGTH)


@dataclass
class DataRef:
    """Where the data comes from and how its columns map onto the task."""

    source: str = setting("default", "default (review sentences), a .csv .tsv .jsonl .json .parquet file, "
                                     "or a save_to_disk folder", min=1, max=SOURCE_LENGTH)
    text_column: str = setting("text", "The column holding the sentence to classify", max=COLUMN_LENGTH)
    text_pair_column: str | None = setting(None, "The column with the second sentence of a pair (empty: none)",
                                           max=COLUMN_LENGTH)
    label_column: str = setting("label", "The column holding the class of each row", max=COLUMN_LENGTH)
    max_length: int = setting(64, "Sentences are cut to this many tokens (BERT-family models read at most 512)",
                              min=8, max=512)
    train_samples: int | None = setting(None, "Use at most this many training rows (empty: all)", min=1, max=SAMPLES_MAX)
    validation_samples: int | None = setting(None, "Validation rows (empty: all)", min=1, max=SAMPLES_MAX)
    test_samples: int | None = setting(None, "Test rows (empty: all)", min=1, max=SAMPLES_MAX)
    seed: int = setting(0, "Seed of the train / validation / test split", min=0, max=SEED_MAX)
    # -- per task (core.tasks); each is read only by the task it names --------------------------------------
    tag_column: int = setting(-1, "Token classification, CoNLL files: the column holding the tags (0 is the word; "
                              "-1 the last)", min=-20, max=20)
    tokens_field: str = setting("tokens", "Token classification, JSON Lines or a saved dataset: the field holding "
                                "each sentence's words", min=1, max=COLUMN_LENGTH)
    tags_field: str = setting("tags", "Token classification, JSON Lines or a saved dataset: the field holding each "
                              "sentence's tags", min=1, max=COLUMN_LENGTH)
    label_pieces: str = setting("first", "Token classification: label a word's first word piece only (the rest "
                                "are ignored by the loss), or all its pieces", choices=("first", "all"))
    doc_stride: int = setting(128, "Question answering: tokens of context shared by consecutive windows of a long "
                              "context (below max_length)", min=0, max=511)
    max_answer_length: int = setting(30, "Question answering: the longest answer span searched, in tokens",
                                     min=1, max=512)
    n_best: int = setting(20, "Question answering: start and end candidates tried per window", min=1, max=100)
    null_threshold: float = setting(0.0, "Question answering with unanswerable questions (SQuAD v2): answer only "
                                    "when the best span beats no-answer by more than this (in logits); used only "
                                    "when the validation split has no unanswerable question, else the threshold "
                                    "is chosen there", min=-100.0, max=100.0)
    target_scaling: str = setting("none", "Regression: scale targets for training (statistics of the training split "
                                  "only); figures are in the data's own units", choices=("none", "standard", "minmax"))
    label_columns: list[str] = setting([], "Multi-label: two or more 0/1 columns, one per label (empty: "
                                       "label_column holds each row's label list)")
    label_separator: str = setting(",", "Multi-label: what separates labels written in one text cell", min=1, max=10)
    label_threshold: float = setting(0.5, "Multi-label: a label is predicted when its probability reaches this",
                                     min=0.01, max=0.99)


def resolve_data_source(source: str, folder: str | Path) -> str:
    """A recipe file's ``data.source``, read against the file's ``folder`` (see "Data paths" in docs/recipes.md).

    A relative path that exists beside the recipe file becomes that absolute path, so a recipe runs from any
    current directory. One that exists only relative to the current directory stays as written: recipes written
    before this rule (``resources/recipes/task-*.yaml`` name ``resources/examples/...``, run from the project
    folder) still run. ``default``, absolute and ``~`` paths, and a path found in neither place (a hub name, or a
    missing file the reader then names as written) are unchanged.
    """
    if not isinstance(source, str) or source == "default" or not source.strip():
        return source
    path = Path(source)
    if path.is_absolute() or source.startswith("~"):
        return source
    beside = os.path.normpath(Path(folder).expanduser().resolve() / path)
    if os.path.exists(beside) and len(beside) <= SOURCE_LENGTH:
        return beside
    return source


def relative_data_source(source: str, folder: str | Path) -> str:
    """The inverse on saving: an absolute data path inside the recipe file's ``folder`` is written relative to it,
    so a recipe saved beside its data (or above it) keeps working when the folder moves."""
    if not isinstance(source, str) or not Path(source).is_absolute():
        return source
    base = Path(folder).expanduser().resolve()
    try:
        return Path(source).relative_to(base).as_posix()
    except ValueError:
        return source


@dataclass
class EvaluationSettings:
    """The evaluation done before the first step and after the last."""

    split: str = setting("test", "The split the final figures are measured on", choices=("train", "validation", "test"))
    max_samples: int | None = setting(None, "Evaluate at most this many rows (empty: the whole split)", min=1,
                                      max=SAMPLES_MAX)
    batch_size: int = setting(64, "Sentences per batch while measuring accuracy", min=1, max=4096)
    # the throughput profiles' batch (single-request profiles use 1)
    latency_batch_size: int = setting(32, "Sentences per batch while timing", min=1, max=4096)
    # alternating rounds per profile (core.metrics.latency)
    latency_repeats: int = setting(5, "Timed rounds per latency profile", min=1, max=1000)
    measure_baseline: bool = setting(True, "Measure the baseline in the same run, for the ratios")
    # Which latency profiles the final measurement times (core.metrics.protocol.PROFILES); the first one
    # gives the run's headline latency and speedup. One cheap profile by default.
    latency_profiles: list[str] = setting(["throughput-fixed"], "Latency profiles to time; the first gives the "
                                                                "headline latency")
    latency_threads: int | None = setting(None, "Torch threads while timing (empty: torch's default)", min=1, max=1024)


@dataclass
class Step:
    """One method in the stack with its settings (plain data; see :func:`Step.config`)."""

    method: str
    settings: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    def spec(self):
        return get_method(self.method)

    def config(self):
        cfg, errors = build_config(self.spec().config_cls, self.settings)
        if errors:
            raise RecipeError([Problem(m, field=f"{self.method}.{f}") for f, m in errors])
        return cfg

    def title(self) -> str:
        return self.label or self.spec().title


# A step's own fields, checked like settings.
STEP_FIELDS = {
    "method": FieldInfo("method", str, "", "The registered method's name", "Method", min=1, max=METHOD_LENGTH),
    "label": FieldInfo("label", str, None, "The step's title in the stack and the run", "Label", max=NAME_LENGTH,
                       optional=True),
}


def settings_problems(index: int, step: Step) -> tuple[Any, list[Problem]]:
    """The step's method (None when unknown) and the problems of its settings."""
    try:
        spec = get_method(step.method)
    except KeyError as exc:
        return None, [Problem(exc.args[0], step=index, method=step.method)]
    _, errors = build_config(spec.config_cls, step.settings)
    return spec, [Problem(m, step=index, method=step.method, field=f) for f, m in errors]


def step_shape_problems(index: int, method: Any, settings: Any, label: Any) -> list[Problem]:
    """A step's method name, label and settings mapping, before the method's own settings are checked."""
    out = []
    _, error = check_field(STEP_FIELDS["method"], method)
    if error:
        return [Problem(error, step=index, field="method")]
    _, error = check_field(STEP_FIELDS["label"], label)
    if error:
        out.append(Problem(error, step=index, method=method, field="label"))
    if not isinstance(settings, dict):
        out.append(Problem(f"must be a mapping; got {brief(settings)}", step=index, method=method, field="settings"))
    return out
