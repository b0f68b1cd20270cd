"""Regression and multi-label data from tables: CSV, TSV, JSON Lines, Parquet or a ``save_to_disk`` folder.

Files are read by :func:`core.data.sources.read_source` (its errors for unreadable files); each row is then
checked here and a bad one is refused with its row (and line, in CSV and JSON Lines) and column, never dropped.

- Regression: one numeric target column; NaN, infinite, empty and non-numeric targets are refused.
  :class:`Scaling` optionally standardises targets with statistics from the training split only.
- Multi-label: one list column (real lists, a JSON list written as text, or labels joined by a separator) or
  several 0/1 columns, one per label; the result is a multi-hot ``labels`` column of floats.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from core.errors import DataLoadError
from core.tasks.files import fail, json_records, row_name, text_file

SCALINGS = ("none", "standard", "minmax")


class _Lines:
    """The records of a JSON Lines file as columns, each row knowing its line (a value may be of any type here,
    where ``datasets`` refuses a column whose type changes and names no line)."""

    def __init__(self, path: Path):
        self.lines, records = [], []
        for number, record in json_records(path, "one row's columns"):
            self.lines.append(number)
            records.append(record)
        self.column_names = list(dict.fromkeys(k for r in records for k in r))
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, column: str) -> list:
        return [r.get(column) for r in self._records]


def _read(source: str | Path, split: str):
    """(rows with ``column_names``, ``len`` and ``rows[column]``, how row ``i`` is named in errors)."""
    import datasets

    from core.data.sources import read_source

    path = Path(source).expanduser()
    if path.is_file() and path.suffix.lower() == ".jsonl":
        table = _Lines(text_file(path, (".jsonl",), "JSON Lines"))
        lines = table.lines

        def name(i: int) -> str:
            return f"line {lines[i]}"
    else:
        table = read_source(str(source))
        if isinstance(table, datasets.DatasetDict):
            if split not in table:
                raise DataLoadError(f"{path.name}: the saved dataset has splits {list(table)} but no {split!r} split")
            table = table[split]
        file = path if path.is_file() else None

        def name(i: int) -> str:
            return row_name(file, i)
    if len(table) == 0:
        raise DataLoadError(f"{path.name} holds no rows")
    return table, name


def _columns(path: Path, ds, needed: Sequence[str]) -> None:
    missing = [c for c in needed if c not in ds.column_names]
    if missing:
        raise DataLoadError(f"{path.name}: column(s) {', '.join(map(repr, missing))} not found; the data has "
                            f"{', '.join(map(repr, ds.column_names))}")


def _texts(path: Path, ds, columns: Sequence[str], name) -> dict[str, list[str]]:
    out = {}
    for column in columns:
        values = ds[column]
        for i, value in enumerate(values):
            if not isinstance(value, str) or not value.strip():
                raise fail(path, f"has no text (got {value!r})", name(i), column)
        out[column] = values
    return out


@dataclass(frozen=True)
class Scaling:
    """``scaled = (target - shift) / scale``; kept with the run so predictions read in the data's units."""

    kind: str = "none"
    shift: float = 0.0
    scale: float = 1.0

    @classmethod
    def fit(cls, kind: str, targets: Sequence[float]) -> "Scaling":
        """Statistics from ``targets`` (the training split's, so validation and test do not leak into them)."""
        if kind not in SCALINGS:
            raise DataLoadError(f"unknown target scaling {kind!r}; use one of {', '.join(SCALINGS)}")
        values = [float(v) for v in targets]
        if kind == "none" or not values:
            return cls()
        if kind == "standard":
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
            return cls(kind, mean, std or 1.0)
        low, high = min(values), max(values)
        return cls(kind, low, (high - low) or 1.0)

    def apply(self, values):
        return [(float(v) - self.shift) / self.scale for v in values]

    def invert(self, values):
        return [float(v) * self.scale + self.shift for v in values]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Scaling":
        return cls(str(data.get("kind", "none")), float(data.get("shift", 0.0)), float(data.get("scale", 1.0)))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def read_regression(source: str | Path, text_column: str = "text", label_column: str = "label",
                    text_pair_column: str | None = None, split: str = "train"):
    """``text`` (``text_pair``), a float ``label`` and ``row``; every target a finite number."""
    import datasets

    path = Path(source).expanduser()
    ds, name = _read(source, split)
    texts = [text_column] + ([text_pair_column] if text_pair_column else [])
    _columns(path, ds, texts + [label_column])
    columns = _texts(path, ds, texts, name)
    labels = []
    for i, value in enumerate(ds[label_column]):
        number = _number(value)
        if value is None or (number is not None and math.isnan(number)):
            raise fail(path, "the target is empty or NaN; every row needs a number", name(i), label_column)
        if number is None:
            raise fail(path, f"the target {value!r} is not a number", name(i), label_column)
        if math.isinf(number):
            raise fail(path, f"the target {value!r} is infinite", name(i), label_column)
        labels.append(number)
    data = {"text": columns[text_column], "label": labels, "row": list(range(1, len(labels) + 1))}
    features = {"text": datasets.Value("string"), "label": datasets.Value("float32"), "row": datasets.Value("int64")}
    if text_pair_column:
        data["text_pair"], features["text_pair"] = columns[text_pair_column], datasets.Value("string")
    return datasets.Dataset.from_dict(data, features=datasets.Features(features))


@dataclass(frozen=True)
class MultiLabelData:
    dataset: Any  # datasets.Dataset: text (text_pair), labels (multi-hot floats), row
    label_names: list[str]


_TRUE = {1, 1.0, True, "1", "1.0", "true", "True", "yes"}
_FALSE = {0, 0.0, False, "0", "0.0", "false", "False", "no"}


def _binary(value: Any) -> float | None:
    if isinstance(value, str):
        value = value.strip()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value in _TRUE:
        return 1.0
    return 0.0 if value in _FALSE else None


def _label_list(path: Path, place: str, field: str, value: Any, separator: str) -> list:
    if value is None or (isinstance(value, float) and math.isnan(value)):  # an empty cell: no labels
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise fail(path, f"starts like a JSON list but is not one ({exc.msg})", place, field) from None
        else:
            return [part.strip() for part in text.split(separator) if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise fail(path, f"holds {value!r}; a label list is a list, or labels joined by {separator!r}", place, field)
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise fail(path, f"holds {item!r}; labels are names or whole numbers", place, field)
    return list(value)


def read_multilabel(source: str | Path, text_column: str = "text", label_columns: str | Sequence[str] = "labels",
                    text_pair_column: str | None = None, separator: str = ",",
                    label_names: Sequence[str] | None = None, split: str = "train") -> MultiLabelData:
    """A multi-label table: ``label_columns`` is one list column, or two or more 0/1 columns (their names are the
    labels). ``label_names`` fixes the label order (use the training file's for validation and test files)."""
    import datasets

    path = Path(source).expanduser()
    ds, name = _read(source, split)
    texts = [text_column] + ([text_pair_column] if text_pair_column else [])
    several = not isinstance(label_columns, str)
    wanted = list(label_columns) if several else [label_columns]
    if several and len(wanted) < 2:
        raise DataLoadError("multi-label data needs one list column or at least two 0/1 columns")
    _columns(path, ds, texts + wanted)
    columns = _texts(path, ds, texts, name)
    if several:
        names = list(label_names or wanted)
        if names != wanted:
            raise DataLoadError(f"{path.name}: label columns {wanted} differ from the training labels {names}")
        hot = [[0.0] * len(names) for _ in range(len(ds))]
        for j, column in enumerate(wanted):
            for i, value in enumerate(ds[column]):
                bit = _binary(value)
                if bit is None:
                    held = "nothing" if value is None or value != value else repr(value)  # None or NaN: an empty cell
                    raise fail(path, f"holds {held}; a label column holds 0 or 1", name(i), column)
                hot[i][j] = bit
    else:
        lists = [_label_list(path, name(i), label_columns, v, separator) for i, v in enumerate(ds[label_columns])]
        numbers = [x for labels in lists for x in labels if isinstance(x, int)]
        if numbers and not label_names:
            if len(numbers) != sum(len(labels) for labels in lists):
                i = next(i for i, labels in enumerate(lists) if any(isinstance(x, str) for x in labels))
                raise fail(path, "mixes label names and numbers", name(i), label_columns)
            names = [str(n) for n in sorted(set(numbers))]
            lists = [[str(x) for x in labels] for labels in lists]
        else:
            names = list(label_names) if label_names else sorted({x for labels in lists for x in labels})
            lists = [[names[x] if isinstance(x, int) and 0 <= x < len(names) else x for x in labels] for labels in lists]
        index = {n: k for k, n in enumerate(names)}
        hot = []
        for i, labels in enumerate(lists):
            unknown = [x for x in labels if x not in index]
            if unknown:
                raise fail(path, f"label {unknown[0]!r} is not one of the labels {names}", name(i),
                           label_columns)
            row = [0.0] * len(names)
            for x in labels:
                row[index[x]] = 1.0
            hot.append(row)
    if len(names) < 2:
        raise DataLoadError(f"{path.name}: multi-label data needs at least two labels; found {names}")
    data = {"text": columns[text_column], "labels": hot, "row": list(range(1, len(hot) + 1))}
    features = {"text": datasets.Value("string"), "labels": datasets.List(datasets.Value("float32")),
                "row": datasets.Value("int64")}
    if text_pair_column:
        data["text_pair"], features["text_pair"] = columns[text_pair_column], datasets.Value("string")
    return MultiLabelData(datasets.Dataset.from_dict(data, features=datasets.Features(features)), names)
