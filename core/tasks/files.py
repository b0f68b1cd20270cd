"""Guarded opening of a task's data file, and the one way its errors name a place.

Every reader here reports bad input as a :class:`~core.errors.DataLoadError`
that names the file, the row (a line number where the file has lines) and the
field, through :func:`where`; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

from core.data.diagnose import binary_problem
from core.errors import DataLoadError


def where(path: Path | str, row: str | None = None, field: str | None = None) -> str:
    """``"train.conll, line 12, field 'tags'"``: the prefix of every error about one place in a file."""
    parts = [Path(path).name]
    if row:
        parts.append(row)
    if field is not None:
        parts.append(f"field {field!r}")
    return ", ".join(parts)


def fail(path: Path | str, message: str, row: str | None = None, field: str | None = None) -> DataLoadError:
    return DataLoadError(f"{where(path, row, field)}: {message}")


def text_file(source: str | Path, suffixes: tuple[str, ...], kind: str) -> Path:
    """A readable, non-empty UTF-8 text file with one of ``suffixes`` (``kind`` names the format in errors)."""
    path = Path(source).expanduser()
    if not path.exists():
        raise DataLoadError(f"no dataset at {path}")
    if path.is_dir():
        raise DataLoadError(f"{path} is a folder; a {kind} file was expected")
    if suffixes and path.suffix.lower() not in suffixes:
        raise DataLoadError(f"{path.name}: unsupported file type {path.suffix!r} for {kind}; use {', '.join(suffixes)}")
    if path.stat().st_size == 0:
        raise DataLoadError(f"{path.name} is empty")
    problem = binary_problem(path)
    if problem:
        raise DataLoadError(f"{path.name} could not be read as {kind}: {problem}")
    return path


def csv_row_line(path: Path, row: int, delimiter: str = ",") -> int | None:
    """The line on which data row ``row`` (0-based, header excluded) of a CSV file starts; None if it has none.

    Only called on the error path: a quoted field may span lines, so the row number alone can mislead.
    """
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            next(reader, None)
            start = reader.line_num + 1
            for index, _ in enumerate(reader):
                if index == row:
                    return start
                start = reader.line_num + 1
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    return None


def row_name(path: Path | None, row: int) -> str:
    """How a table row (0-based ``row``) is named: ``row 3 (line 4)`` in a CSV/TSV file, ``row 3`` elsewhere."""
    if path is not None and path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        line = csv_row_line(path, row, "\t" if path.suffix.lower() == ".tsv" else ",")
        if line is not None:
            return f"row {row + 1} (line {line})"
    return f"row {row + 1}"


def json_records(path: Path, what: str) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file; ``what`` says what an object holds."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise fail(path, f"is not valid JSON ({exc.msg} at column {exc.colno})", f"line {number}") from None
            if not isinstance(record, dict):
                raise fail(path, f"is a JSON {type(record).__name__}, not an object with {what}", f"line {number}")
            yield number, record
