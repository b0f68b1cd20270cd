"""Token-classification data: CoNLL files, JSON Lines with ``tokens`` and ``tags``, a ``save_to_disk`` folder.

Each reader gives a :class:`TokenData`: a ``datasets.Dataset`` with ``tokens`` (words), ``tags`` (a list of
``ClassLabel``), ``row`` (the line or row the sentence starts on, for later messages), ``document`` (CoNLL: the
document between ``-DOCSTART-`` lines, to split by; elsewhere each sentence is its own) and any other CoNLL
columns as ``column_1`` ... (nothing in the file is dropped), with the tag names and the detected scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from core.errors import DataLoadError
from core.tasks.files import fail, json_records, row_name, text_file
from core.tasks.tags import Locate, TagScheme, detect_scheme, order_labels

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class TokenData:
    dataset: Any  # datasets.Dataset: tokens, tags, row (+ column_N for other CoNLL columns)
    label_names: list[str]
    scheme: TagScheme


def _build(path: Path, tokens: list[list[str]], tags: list[list[str]], rows: list[int], locate: Locate,
           extra: dict[str, list[list[str]]], label_names: Sequence[str] | None,
           documents: list[int] | None = None) -> TokenData:
    import datasets

    if not tokens:
        raise DataLoadError(f"{path.name} holds no sentences")
    scheme = detect_scheme(tags, locate)
    names = list(label_names) if label_names else order_labels({t for sentence in tags for t in sentence})
    known = set(names)
    for s, sentence in enumerate(tags):
        for t, tag in enumerate(sentence):
            if tag not in known:
                raise DataLoadError(f"{locate(s, t)}: tag {tag!r} is not one of the labels {names}")
    features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
                                  "tags": datasets.List(datasets.ClassLabel(names=names)),
                                  "row": datasets.Value("int64"), "document": datasets.Value("int64"),
                                  **{k: datasets.List(datasets.Value("string")) for k in extra}})
    index = {n: i for i, n in enumerate(names)}
    data = {"tokens": tokens, "tags": [[index[t] for t in s] for s in tags], "row": rows,
            "document": documents if documents is not None else list(range(len(tokens))), **extra}
    return TokenData(datasets.Dataset.from_dict(data, features=features), names, scheme)


def read_conll(source: str | Path, tag_column: int = -1, label_names: Sequence[str] | None = None) -> TokenData:
    """Sentences of a CoNLL file: one token per line, columns split by tabs (or spaces), blank lines between
    sentences, ``-DOCSTART-`` lines between documents. ``tag_column`` picks the tag column (0 is the token;
    the default, -1, is the last). Every line must have as many columns as the first."""
    path = text_file(source, (), "CoNLL")  # any name: CoNLL-2003 ships eng.train, eng.testa...
    tokens: list[list[str]] = []
    tags: list[list[str]] = []
    rows: list[int] = []
    documents: list[int] = []  # -DOCSTART- lines counted before the sentence
    document = 0
    places: list[list[int]] = []  # each token's line
    extra_columns: list[list[list[str]]] = []
    width = first_line = None
    sentence: list[list[str]] = []
    lines: list[int] = []

    def close():
        if sentence:
            tokens.append([f[0] for f in sentence])
            tags.append([f[tag_index] for f in sentence])
            extra_columns.append([[f[c] for f in sentence] for c in others])
            rows.append(lines[0])
            documents.append(document)
            places.append(list(lines))
            sentence.clear()
            lines.clear()

    tag_index = 0
    others: list[int] = []
    with path.open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                close()
                continue
            fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split()
            if fields[0] == DOCSTART:
                close()
                document += 1 if tokens else 0  # sentences before the first -DOCSTART- share its document
                continue
            if width is None:
                width, first_line = len(fields), number
                if width < 2:
                    raise fail(path, "has a single column; a CoNLL line holds a token and its tag", f"line {number}")
                tag_index = tag_column if tag_column >= 0 else width + tag_column
                if not 1 <= tag_index < width:
                    raise fail(path, f"tag column {tag_column} is not one of the tag columns 1..{width - 1} (column 0 "
                                     f"is the token; the file has {width} columns)", f"line {number}")
                others = [c for c in range(1, width) if c != tag_index]
            if len(fields) != width:
                raise fail(path, f"has {len(fields)} columns where line {first_line} has {width}; every token line "
                                 "needs its token and the same tag columns", f"line {number}")
            sentence.append(fields)
            lines.append(number)
    close()
    extra = {f"column_{c}": [cols[i] for cols in extra_columns] for i, c in enumerate(others)}
    return _build(path, tokens, tags, rows, lambda s, t: f"{path.name}, line {places[s][t]}, field 'tag'", extra,
                  label_names, documents)


def _in_row(path: Path, rows: list[int], unit: str, field: str) -> Locate:
    return lambda s, t: f"{path.name}, {unit} {rows[s]}, field {field!r} (token {t + 1})"


def _tag_names(path: Path, place: str, field: str, values: list[Any], label_names: Sequence[str] | None) -> list[str]:
    """Tags as strings; integer tags are looked up in ``label_names``."""
    out = []
    for value in values:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, int) and not isinstance(value, bool) and label_names:
            if not 0 <= value < len(label_names):
                raise fail(path, f"tag {value} is not an index of the {len(label_names)} tag names", place, field)
            out.append(label_names[value])
        elif isinstance(value, int) and not isinstance(value, bool):
            raise fail(path, f"tags are numbers ({value}); give the tag names (label_names) or write the tags as "
                             "text such as 'B-PER'", place, field)
        else:
            raise fail(path, f"tag {value!r} is not a text tag", place, field)
    return out


def _check_row(path: Path, place: str, record: dict, tokens_field: str, tags_field: str,
               label_names: Sequence[str] | None) -> tuple[list[str], list[str]]:
    for field in (tokens_field, tags_field):
        if field not in record:
            raise fail(path, f"has no {field!r} field; it has {sorted(record)}", place)
        if not isinstance(record[field], list):
            raise fail(path, f"is a {type(record[field]).__name__}, not a list", place, field)
    words = record[tokens_field]
    if not words:
        raise fail(path, "is empty; a sentence needs at least one token", place, tokens_field)
    bad = next((w for w in words if not isinstance(w, str) or not w.strip()), None)
    if bad is not None or any(not isinstance(w, str) for w in words):
        raise fail(path, f"holds {bad!r}; every token is a non-empty text", place, tokens_field)
    tags = _tag_names(path, place, tags_field, record[tags_field], label_names)
    if len(tags) != len(words):
        raise fail(path, f"has {len(tags)} tags for {len(words)} tokens; each token needs one tag", place, tags_field)
    return words, tags


def read_token_jsonl(source: str | Path, tokens_field: str = "tokens", tags_field: str = "tags",
                     label_names: Sequence[str] | None = None) -> TokenData:
    """Sentences of a JSON Lines file, one object per line with a list of tokens and a list of tags."""
    path = text_file(source, (".jsonl", ".json"), "JSON Lines")
    tokens, tags, rows = [], [], []
    for number, record in json_records(path, f"{tokens_field!r} and {tags_field!r}"):
        place = f"line {number}"
        words, labels = _check_row(path, place, record, tokens_field, tags_field, label_names)
        tokens.append(words)
        tags.append(labels)
        rows.append(number)
    return _build(path, tokens, tags, rows, _in_row(path, rows, "line", tags_field), {}, label_names)


def read_token_disk(source: str | Path, tokens_field: str = "tokens", tags_field: str = "tags",
                    split: str = "train", label_names: Sequence[str] | None = None) -> TokenData:
    """A folder written by ``save_to_disk`` (a ``Dataset``, or a ``DatasetDict`` and its ``split``); tags may be a
    list of ``ClassLabel`` (their names are used) or of text."""
    import datasets

    from core.data.sources import read_source

    path = Path(source).expanduser()
    if not path.is_dir():
        raise DataLoadError(f"{path} is not a folder written by save_to_disk")
    ds = read_source(str(path))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise DataLoadError(f"{path.name}: the saved dataset has splits {list(ds)} but no {split!r} split")
        ds = ds[split]
    if tags_field in ds.features:
        feature = getattr(ds.features[tags_field], "feature", None)
        if isinstance(feature, datasets.ClassLabel):
            label_names = label_names or list(feature.names)
    tokens, tags, rows = [], [], []
    for index, record in enumerate(ds):
        place = row_name(None, index)
        words, labels = _check_row(path, place, record, tokens_field, tags_field, label_names)
        tokens.append(words)
        tags.append(labels)
        rows.append(index + 1)
    return _build(path, tokens, tags, rows, _in_row(path, rows, "row", tags_field), {}, label_names)


def read_token_source(source: str | Path, **options) -> TokenData:
    """The reader for ``source`` by its form: a folder, a ``.jsonl`` file, or a CoNLL file."""
    path = Path(source).expanduser()
    if path.is_dir():
        return read_token_disk(path, **options)
    if path.suffix.lower() in (".jsonl", ".json"):
        return read_token_jsonl(path, **options)
    return read_conll(path, **options)
