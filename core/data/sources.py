"""Read a dataset source into ``datasets`` objects, with clear errors for bad input and notes on what changed.

:func:`read_table` is the one way a table is read (sentence classification, regression and multi-label tables,
``save_to_disk`` folders): a CSV whose quoting merges rows is refused with its line, texts that span lines and
JSON columns whose value types mix are said in :class:`~core.data.diagnose.DataNote` s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data.diagnose import DataNote, csv_records, describe_failure, json_value_types
from core.data.labels import label_key
from core.errors import DataLoadError

DEFAULT_SOURCE = "default"
_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


@dataclass(frozen=True)
class SourceTable:
    """A source as read: a ``Dataset`` or ``DatasetDict``, and what reading it did to its rows."""

    data: Any
    notes: tuple[DataNote, ...] = ()


def read_source(source: str):
    """The ``Dataset`` or ``DatasetDict`` of ``source`` (:func:`read_table` without its notes: for previews)."""
    return read_table(source).data


def read_table(source: str) -> SourceTable:
    """Read ``source``: ``default``, a CSV/TSV/JSON/JSON Lines/Parquet file, or a folder written by ``save_to_disk``."""
    if source == DEFAULT_SOURCE:
        from core.data.default import load_default_dataset

        return SourceTable(load_default_dataset())
    import datasets

    path = Path(source).expanduser()
    if not path.exists():
        raise DataLoadError(f"no dataset at {path}")
    if path.is_dir():
        try:
            return SourceTable(datasets.load_from_disk(str(path)))
        except Exception as exc:
            raise DataLoadError(f"{path} is a folder but not a dataset saved with save_to_disk ({exc})") from None
    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise DataLoadError(f"{path.name}: unsupported file type {path.suffix!r}; use CSV, TSV, JSON Lines, Parquet or a save_to_disk folder")
    if path.stat().st_size == 0:
        raise DataLoadError(f"{path.name} is empty")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    kwargs = {"delimiter": delimiter} if builder == "csv" else {}
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # it logs the parser error we report below
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # datasets wraps the parser's error; say what the parser found, and where
        reason = describe_failure(path, builder, exc, delimiter)
        raise DataLoadError(f"{path.name} could not be read as {builder.upper()}: {reason}") from None
    finally:
        datasets.logging.set_verbosity(verbosity)
    if builder == "csv":
        problem, note = csv_records(path, len(ds), delimiter)
        if problem:
            raise DataLoadError(f"{path.name} could not be read as CSV: {problem}")
        return SourceTable(ds, (note,) if note else ())
    if builder == "json":
        return _mixed_json_as_text(path, ds)
    return SourceTable(ds)


def _mixed_json_as_text(path: Path, ds) -> SourceTable:
    """Read each JSON column whose values mix types (1, "1", 1.0, true) as the text each value shows, and say so.

    ``datasets`` keeps such a column as raw JSON, which nothing downstream can sort or count; the one rule for
    labels (:func:`~core.data.labels.label_key`) makes 1, "1" and 1.0 the same class '1'. A column of lists or
    objects is left as it is (the readers of each task check those).
    """
    import datasets

    notes = []
    for column, feature in ds.features.items():
        if not isinstance(feature, datasets.Json):
            continue
        values = ds[column]
        if any(isinstance(v, (list, dict)) for v in values):
            continue
        types = json_value_types(path, column)
        texts = [None if v is None else label_key(v) for v in values]
        order = ds.column_names
        ds = ds.remove_columns(column).add_column(column, texts, feature=datasets.Value("string"))
        ds = ds.select_columns(order)
        where = ", ".join(f"{kind} on {place}" for kind, place in types.items())
        notes.append(DataNote("normalised", sum(v is not None for v in values), (
            f"{path.name}: column {column!r} mixes JSON value types ({where}); each value is read as the text it "
            "shows (1, \"1\" and 1.0 all read '1', one label; true reads 'true')")))
    return SourceTable(ds, tuple(notes))
