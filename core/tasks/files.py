"""Guarded opening of a task's data file, and the one way its errors name a place.

Every reader here reports bad input as a :class:`~core.errors.DataLoadError`
that names the file, the row (a line number where the file has lines) and the
field, through :func:`where`; nothing is dropped silently.
"""

from __future__ import annotations

import csv
from pathlib import Path

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
    """How a table row is named: ``row 3 (line 4)`` in a CSV/TSV file, ``row 3`` elsewhere (1-based)."""
    if path is not None and path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        line = csv_row_line(path, row, "\t" if path.suffix.lower() == ".tsv" else ",")
        if line is not None:
            return f"row {row + 1} (line {line})"
    if path is not None and path.is_file() and path.suffix.lower() == ".jsonl":
        line = jsonl_row_line(path, row)
        if line is not None:
            return f"line {line}"
    return f"row {row + 1}"


def jsonl_row_line(path: Path, row: int) -> int | None:
    """The line of record ``row`` (0-based) of a JSON Lines file, blank lines skipped as datasets skips them."""
    try:
        with path.open(encoding="utf-8") as fh:
            index = -1
            for number, line in enumerate(fh, 1):
                if line.strip():
                    index += 1
                    if index == row:
                        return number
    except (OSError, UnicodeDecodeError):
        return None
    return None
