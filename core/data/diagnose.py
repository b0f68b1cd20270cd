"""Say what is wrong with a data file, and on which line; and what reading it did to its rows.

``datasets`` wraps every parser error in "An error occurred while generating
the dataset" (and an empty CSV in "Instruction 'train' corresponds to no
data!"). After such a failure, and only then, so a good file costs nothing
extra, the file is re-read with the standard library to name the first bad
line; when that finds nothing, the root cause is dug out of the exception chain.

A file that reads without error can still lose rows: pandas' CSV parser is
lenient, so a stray quote merges the rows up to the next quote into one text.
:func:`csv_records` counts the file's lines against the rows read (a good file
costs one pass over its bytes) and only then parses it strictly: a quote that
breaks the CSV format refuses the file with its line, and texts that really span
lines become a :class:`DataNote`. Rows dropped or values read differently later
on (:mod:`core.data.task`) are notes too, so nothing changes silently.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class DataNote:
    """Something reading the data did to the file's rows that the user must be told: rows ``dropped``, lines
    ``merged`` into one row, values ``normalised`` (read as another type). ``rows`` counts the rows concerned."""

    kind: str
    rows: int
    message: str

    def __str__(self) -> str:
        return self.message


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
            return quote_problem(exc, start, reader.line_num, delimiter)
    if rows == 0:
        return f"it has a header line ({', '.join(header)}) but no data rows"
    return None


def quote_problem(exc: csv.Error, start: int, line: int, delimiter: str = ",") -> str:
    """The strict CSV parser's error ``exc`` in the record that starts on line ``start`` (the parser was on ``line``)."""
    text = str(exc)
    if "end of data" in text or "EOF" in text:
        return f'the quoted field that starts on line {start} is never closed (a " is missing)'
    if "expected after" in text:
        where = f"line {start}" if line <= start else f"lines {start} to {line}"
        return (f'{where}: a quoted field closes before its {delimiter_name(delimiter)} or the line\'s end (text '
                'follows its closing "): a quote is missing or stray, so rows would be merged into one text. Quote '
                'the whole text and double every " inside it ("")')
    return f"line {start}: {text}"


def nonblank_lines(path: Path) -> int:
    """Lines holding anything but white space (what pandas counts as a header or a row when no text spans lines)."""
    count = 0
    with path.open("rb") as fh:
        for line in fh:
            count += bool(line.strip())
    return count


def csv_records(path: Path, rows_read: int, delimiter: str = ",") -> tuple[str | None, DataNote | None]:
    """After a CSV file read without error as ``rows_read`` rows: (why it must be refused, or None; a note on
    texts that span lines, or None).

    When every row is one line (the usual case) the lines are counted and nothing is parsed. Otherwise the file
    is parsed strictly: a quote that breaks the format (text after a closing quote, a quote never closed) is a
    problem, named with its line; quoted texts that hold line breaks are legal CSV but are what a missing quote
    also makes, so they are said, with the first one's lines.
    """
    if rows_read == nonblank_lines(path) - 1:
        return None, None
    spans: list[tuple[int, int]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        start = 1
        try:
            for _ in reader:
                if reader.line_num > start and start > 1:
                    spans.append((start, reader.line_num))
                start = reader.line_num + 1
        except csv.Error as exc:
            return quote_problem(exc, start, reader.line_num, delimiter), None
    if not spans:
        return None, None
    first, last = spans[0]
    breaks = sum(end - begin for begin, end in spans)
    one = len(spans) == 1
    texts = "a quoted text runs" if one else f"{len(spans)} quoted texts run"
    inside = f"the {breaks} line break{'' if breaks == 1 else 's'} inside {'it' if one else 'them'}"
    return None, DataNote("merged", len(spans), (
        f"{path.name}: {texts} over several lines ({'' if one else 'the first '}from line {first} to line {last}); "
        f"{inside} {'is' if breaks == 1 else 'are'} read as part of a text, not as new rows. If a quote is missing "
        "there, rows were merged into one: check those lines"))


_JSON_TYPES = {bool: "true/false", int: "a whole number", float: "a decimal number", str: "text"}


def json_value_types(path: Path, column: str) -> dict[str, str]:
    """For a JSON Lines file (or a JSON list): each JSON type of ``column``'s values -> where it first occurs
    (``"line 3"``, ``"item 3"``). Read with the standard library: ``datasets`` turns the text "1" into 1."""
    found: dict[str, str] = {}

    def see(record, place: str) -> None:
        value = record.get(column) if isinstance(record, dict) else None
        kind = _JSON_TYPES.get(type(value))
        if kind is not None and kind not in found:
            found[kind] = place

    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        for index, record in enumerate(json.loads(text), 1):
            see(record, f"item {index}")
        return found
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            see(json.loads(line), f"line {number}")
    return found


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
