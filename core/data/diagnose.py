"""Say what is wrong with a data file, and on which line, when ``datasets`` could not read it.

``datasets`` wraps every parser error in "An error occurred while generating
the dataset" (and an empty CSV in "Instruction 'train' corresponds to no
data!"). After such a failure, and only then, so a good file costs nothing
extra, the file is re-read with the standard library to name the first bad
line; when that finds nothing, the root cause is dug out of the exception chain.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

SNIFF_BYTES = 64 * 1024


def describe_failure(path: Path, builder: str, exc: BaseException, delimiter: str = ",") -> str:
    """One sentence on why ``path`` could not be read as ``builder`` (``csv``, ``json``, ``parquet``)."""
    problem = binary_problem(path) if builder in ("csv", "json") else None
    if problem is None and builder == "csv":
        problem = csv_problem(path, delimiter)
    elif problem is None and builder == "json":
        problem = json_problem(path)
    return problem or root_cause(exc)


def binary_problem(path: Path) -> str | None:
    """A sentence when a file that should be text is binary or not UTF-8, else None."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
        if b"\x00" in head:
            return f"it is a binary file, not {path.suffix.lstrip('.').upper()} text"
        fh.seek(0)
        for number, line in enumerate(fh, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return f"line {number} is not UTF-8 text (byte {exc.start + 1} of the line); save the file as UTF-8"
    return None


def csv_problem(path: Path, delimiter: str = ",") -> str | None:
    """The first line that a CSV parser refuses (too many fields, a quote never closed), or no data rows."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        start = 1
        try:
            header = next(reader, None)
            if header is None:
                return "it has no header line"
            rows = 0
            start = reader.line_num + 1
            for row in reader:
                # pandas fills a short row with missing values but refuses a long one
                if len(row) > len(header):
                    return (f"line {start} has {len(row)} fields where the header line has {len(header)} "
                            f"({delimiter_name(delimiter)}s inside a text must be quoted)")
                rows += bool(row)
                start = reader.line_num + 1
        except csv.Error as exc:
            if "end of data" in str(exc) or "EOF" in str(exc):
                return f'the quoted field that starts on line {start} is never closed (a " is missing)'
            return f"line {start}: {exc}"
    if rows == 0:
        return f"it has a header line ({', '.join(header)}) but no data rows"
    return None


def delimiter_name(delimiter: str) -> str:
    return {",": "comma", "\t": "tab", ";": "semicolon"}.get(delimiter, repr(delimiter))


def json_problem(path: Path) -> str | None:
    """The first line of a JSON Lines file that is not a JSON object, or where a JSON list breaks."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):  # one JSON document: a list of records
        return _list_problem(text)
    records = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            where = f"{exc.msg} column {exc.colno}" if exc.msg.endswith(" at") else f"{exc.msg} at column {exc.colno}"
            return f"line {number} is not valid JSON ({where})"
        if not isinstance(value, dict):
            return f"line {number} is a JSON {type(value).__name__}, not an object with one record's fields"
        records += 1
    return "it holds no records" if records == 0 else None


def _list_problem(text: str) -> str | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"line {exc.lineno}, column {exc.colno} is not valid JSON ({exc.msg})"
    bad = next((i for i, v in enumerate(value) if not isinstance(v, dict)), None) if isinstance(value, list) else None
    if bad is not None:
        return f"item {bad + 1} of the JSON list is a {type(value[bad]).__name__}, not an object with one record's fields"
    return "it holds no records" if value == [] else None


def root_cause(exc: BaseException) -> str:
    """The first line of the innermost exception's message (what the parser itself said)."""
    seen: set[int] = set()
    inner = exc
    while id(inner) not in seen:
        seen.add(id(inner))
        nxt = inner.__cause__ or inner.__context__
        if nxt is None:
            break
        inner = nxt
    text = str(inner).strip()
    line = text.splitlines()[0] if text else type(inner).__name__
    return line.replace("Error tokenizing data. C error: ", "")
