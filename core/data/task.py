"""Turn a data source into a tokenized task with fixed splits, for each of the task kinds (:mod:`core.tasks`).

Sentence classification reads its table here; the other kinds read their files with :mod:`core.tasks`' readers
(CoNLL / JSON Lines tags, SQuAD / JSON Lines questions, regression and multi-label tables), split them with related
examples kept together (:func:`core.tasks.splits.grouped_split`) and tokenize them with :mod:`core.tasks`'
features (tags on word pieces, question windows).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data.diagnose import DataNote
from core.data.kinds import RawTask, load_task_splits
from core.data.labels import label_key
from core.data.sources import read_table
from core.errors import DataLoadError, ModelLoadError
from core.recipe import DataRef
from core.tasks.kinds import TaskKind

MAX_CLASSES = 100
SPLITS = ("train", "validation", "test")


@dataclass
class TaskData:
    """Tokenized splits (columns ``input_ids``, ``attention_mask``, ``labels``...) and label names."""

    train: Any
    validation: Any
    test: Any
    label_names: list[str]
    tokenizer: Any
    text_column: str = "text"
    text_pair_column: str | None = None
    raw: dict[str, Any] | None = None  # the untokenized splits (text, text_pair, label), to tokenize them again
    kind: TaskKind = TaskKind.SEQUENCE_CLASSIFICATION
    scheme: Any = None  # token classification: the tag scheme (core.tasks.tags.TagScheme)
    scaling: Any = None  # regression: the target scaling fitted on the training split (core.tasks.table_data.Scaling)
    unanswerable: int = 0  # question answering: questions without an answer (SQuAD v2 when above 0)
    notes: tuple[DataNote, ...] = ()  # what reading the data did to its rows (dropped, merged, normalised)

    @property
    def num_labels(self) -> int:
        """Outputs of the model's head: classes, tags or labels; 1 for regression, 2 (start, end) for QA."""
        if self.kind is TaskKind.REGRESSION:
            return 1
        if self.kind is TaskKind.QUESTION_ANSWERING:
            return 2
        return len(self.label_names)

    def extras(self) -> dict[str, Any]:
        """What tokenizing the raw splits again needs beside them (:func:`tokenize_splits`' ``extra``)."""
        return {"scheme": self.scheme, "scaling": self.scaling, "unanswerable": self.unanswerable}

    def split(self, name: str):
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}")
        return getattr(self, name)

    def collator(self):
        """Pads a batch for the task: token classification pads ``labels`` with -100 (ignored by the loss); the
        other kinds pad the inputs only (QA's start / end positions, float targets and label vectors as they are)."""
        from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

        if self.kind is TaskKind.TOKEN_CLASSIFICATION:
            return DataCollatorForTokenClassification(self.tokenizer, label_pad_token_id=-100, return_tensors="pt")
        return DataCollatorWithPadding(self.tokenizer, return_tensors="pt")

    def loader(self, split: str, batch_size: int, shuffle: bool = False, seed: int = 0, limit: int | None = None):
        """Batches of the model's inputs and targets; the metadata columns (``_word_ids``, QA's ``_offsets``...)
        stay out of them (they are read from :meth:`split` by the evaluation)."""
        import torch
        from torch.utils.data import DataLoader

        ds = self.split(split)
        if limit is not None and limit < len(ds):
            ds = ds.select(range(limit))
        ds = ds.remove_columns([c for c in ds.column_names if c.startswith("_")])
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=self.collator())


def _label_names(ds, column: str) -> list[str]:
    import datasets

    feature = ds.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return list(feature.names)
    values = [v for v in ds.unique(column) if v is not None]
    if not values:
        raise DataLoadError(f"label column {column!r} has no values")
    if all(isinstance(v, float) for v in values) and not all(float(v).is_integer() for v in values):
        raise DataLoadError(f"label column {column!r} holds continuous numbers; the studio needs categories (classification)")
    if len(values) > MAX_CLASSES:
        raise DataLoadError(f"label column {column!r} has {len(values)} distinct values; a classification label has at most {MAX_CLASSES}")
    if any(isinstance(v, (list, dict)) for v in values):
        raise DataLoadError(f"label column {column!r} holds lists or mappings, not categories")
    if all(isinstance(v, (int, float)) for v in values):  # booleans included: False is 0, True is 1
        return list(dict.fromkeys(label_key(v) for v in sorted(values)))
    return sorted({label_key(v) for v in values})


def _check_text_column(ds, column: str, role: str) -> None:
    """Refuse a text column that holds numbers (a mapping mistake) before its rows are all dropped as empty."""
    import datasets

    feature = ds.features[column]
    if isinstance(feature, datasets.Value) and feature.dtype not in ("string", "large_string", "null"):
        first = next((v for v in ds[column][:100] if v is not None), None)
        raise DataLoadError(f"the {role} column {column!r} holds {feature.dtype} values (such as {first!r}), not text; "
                            "map it to the column that holds the sentences")
    if isinstance(feature, datasets.ClassLabel) or not isinstance(feature, datasets.Value):
        raise DataLoadError(f"the {role} column {column!r} holds {type(feature).__name__} values, not text; "
                            "map it to the column that holds the sentences")


def _blank_text(value) -> bool:
    return not isinstance(value, str) or value.strip() == ""


def dropped_note(ds, text: str, label: str, split: str | None = None, source: str = "") -> DataNote | None:
    """A note counting the rows of ``ds`` that training cannot use (no label, or no text) with their first rows;
    None when every row is usable. Row numbers count data rows from 1 (a CSV's header is line 1, row 1 is line 2)."""
    labels, texts = ds[label], ds[text]
    no_label = [i for i, v in enumerate(labels) if v is None]
    no_text = [i for i, (v, y) in enumerate(zip(texts, labels)) if y is not None and _blank_text(v)]
    if not no_label and not no_text:
        return None
    dropped = len(no_label) + len(no_text)
    why = []
    for rows, what in ((no_label, f"no label (column {label!r})"), (no_text, f"no text (column {text!r})")):
        if rows:
            first = ", ".join(str(i + 1) for i in rows[:5]) + (", ..." if len(rows) > 5 else "")
            why.append(f"{len(rows):,} with {what}: row{'s' if len(rows) > 1 else ''} {first}")
    where = f" of the {split!r} split" if split else ""
    name = f"{source}: " if source else ""
    return DataNote("dropped", dropped, f"{name}{dropped:,} of {len(ds):,} rows{where} dropped, {'; '.join(why)} "
                                        "(data rows counted from 1, a header line not counted)")


def _source_name(ref: DataRef) -> str:
    return "" if ref.source == "default" else Path(str(ref.source)).name


def _normalise(ds, ref: DataRef, names: list[str] | None, split: str | None = None):
    """Rename columns to text / text_pair / label and encode labels as ClassLabel; the rows without a text or a
    label are dropped and counted in the note returned (None when none was)."""
    import datasets

    missing = [c for c in (ref.text_column, ref.label_column, ref.text_pair_column) if c and c not in ds.column_names]
    if missing:
        raise DataLoadError(f"column(s) {', '.join(map(repr, missing))} not found; the data has {', '.join(map(repr, ds.column_names))}")
    if len(ds) == 0:
        raise DataLoadError("the dataset is empty")
    _check_text_column(ds, ref.text_column, "text")
    if ref.text_pair_column:
        _check_text_column(ds, ref.text_pair_column, "text pair")
    names = names or _label_names(ds, ref.label_column)
    index = {n: i for i, n in enumerate(names)}
    is_class = isinstance(ds.features[ref.label_column], datasets.ClassLabel)
    keep = [ref.text_column, ref.label_column] + ([ref.text_pair_column] if ref.text_pair_column else [])
    ds = ds.select_columns(keep)
    note = dropped_note(ds, ref.text_column, ref.label_column, split, _source_name(ref))
    if note is not None:
        ds = ds.filter(lambda r: r[ref.label_column] is not None and not _blank_text(r[ref.text_column]))
    if len(ds) == 0:
        raise DataLoadError(f"the dataset has no rows with both a text (column {ref.text_column!r}) and a label "
                            f"(column {ref.label_column!r}): every row lacks one or the other")

    def encode(row):
        value = row[ref.label_column]
        out = {"text": row[ref.text_column], "label": value if is_class else index.get(label_key(value), -1)}
        if ref.text_pair_column:
            out["text_pair"] = row[ref.text_pair_column] or ""
        return out

    if not is_class and (unknown := sorted({label_key(v) for v in ds.unique(ref.label_column)} - set(names))):
        raise DataLoadError(f"label value {unknown[0]!r} is not one of the training labels {names}")
    ds = ds.map(encode, remove_columns=ds.column_names)
    features = ds.features.copy()
    features["label"] = datasets.ClassLabel(names=names)
    return ds.cast(features), names, note


def _split(ds, ref: DataRef):
    n = len(ds)
    if n < 10:
        raise DataLoadError(f"the dataset has only {n} usable rows; at least 10 are needed to make train, validation and test splits")
    n_test, n_val = min(2000, n // 6), min(1000, n // 10)
    counts = {}
    for v in ds["label"]:
        counts[v] = counts.get(v, 0) + 1
    stratify = "label" if len(counts) > 1 and min(counts.values()) >= 2 else None
    try:
        first = ds.train_test_split(test_size=n_test, seed=ref.seed, stratify_by_column=stratify)
        second = first["train"].train_test_split(test_size=n_val, seed=ref.seed, stratify_by_column=stratify)
    except ValueError:  # a class too small to stratify
        first = ds.train_test_split(test_size=n_test, seed=ref.seed)
        second = first["train"].train_test_split(test_size=n_val, seed=ref.seed)
    return {"train": second["train"], "validation": second["test"], "test": first["test"]}


def load_splits(ref: DataRef) -> tuple[dict[str, Any], list[str]]:
    """Read, map and split the raw data (untokenized); applies the sample caps (:func:`read_splits` without its
    notes)."""
    splits = read_splits(ref)
    return splits.parts, splits.label_names


def read_splits(ref: DataRef) -> RawTask:
    """Read, map and split the raw data (untokenized), applying the sample caps, as the other kinds'
    :func:`~core.data.kinds.load_task_splits` does; with the notes on what reading did to the rows (rows dropped
    for a blank text or label, texts spanning lines, JSON types read as text)."""
    import datasets

    table = read_table(ref.source)
    raw, notes = table.data, list(table.notes)
    if isinstance(raw, datasets.DatasetDict):
        if "train" not in raw:
            raise DataLoadError(f"the saved dataset has splits {list(raw)} but no 'train' split")
        train, names, note = _normalise(raw["train"], ref, None, "train" if len(raw) > 1 else None)
        notes.append(note)
        parts = {"train": train}
        for name in ("validation", "test"):
            alt = {"validation": ("validation", "valid", "dev"), "test": ("test",)}[name]
            split = next((a for a in alt if a in raw), None)
            if split is not None:
                parts[name], _, note = _normalise(raw[split], ref, names, split)
                notes.append(note)
        if "validation" not in parts or "test" not in parts:
            extra = _split(parts["train"], ref)
            parts.setdefault("validation", extra["validation"])
            if "test" not in parts:
                parts["test"] = extra["test"]
            parts["train"] = extra["train"]
    else:
        ds, names, note = _normalise(raw, ref, None)
        notes.append(note)
        parts = _split(ds, ref)
    if len(names) < 2:
        raise DataLoadError(f"the label column has a single class ({names[0]!r}); classification needs at least two")
    for name, cap in (("train", ref.train_samples), ("validation", ref.validation_samples), ("test", ref.test_samples)):
        if cap is not None and cap < len(parts[name]):
            parts[name] = parts[name].select(range(cap))
    return RawTask(parts, names, notes=tuple(n for n in notes if n is not None))


UNKNOWN_SAMPLE = 200  # training texts checked for unknown tokens
MAX_UNKNOWN_SHARE = 0.5


def check_vocabulary(ds, tokenizer) -> None:
    """Refuse a tokenizer that reads most of the data as its unknown token: training on it would learn nothing.

    A model folder with a broken or foreign vocabulary loads without complaint and
    turns every word into [UNK]; this counts the first texts' tokens instead.
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or len(ds) == 0:
        return
    special = set(getattr(tokenizer, "all_special_ids", ())) - {unk}
    tokens = [t for ids in ds.select(range(min(UNKNOWN_SAMPLE, len(ds))))["input_ids"] for t in ids if t not in special]
    share = sum(t == unk for t in tokens) / len(tokens) if tokens else 0.0
    if share > MAX_UNKNOWN_SHARE:
        raise ModelLoadError(
            f"the model's tokenizer reads {share:.0%} of the tokens in the first training texts as "
            f"{tokenizer.unk_token!r} (unknown): its vocabulary does not fit this data, or the model folder's "
            "tokenizer files are wrong or incomplete"
        )


def prepare_task(ref: DataRef, tokenizer, kind: TaskKind | str = TaskKind.SEQUENCE_CLASSIFICATION) -> TaskData:
    kind = TaskKind.parse(kind)
    raw = read_splits(ref) if kind is TaskKind.SEQUENCE_CLASSIFICATION else load_task_splits(ref, kind)
    task = tokenize_splits(raw.parts, raw.label_names, ref, tokenizer, kind=kind, extra=raw.extra)
    return dataclasses.replace(task, notes=raw.notes)


def tokenize_splits(parts: dict[str, Any], names: list[str], ref: DataRef, tokenizer,
                    kind: TaskKind | str = TaskKind.SEQUENCE_CLASSIFICATION, extra: dict | None = None) -> TaskData:
    """The task from :func:`load_splits`' raw splits (also used to re-tokenize them with a pruned vocabulary).

    For the other kinds (``kind``), ``parts`` and ``extra`` (scheme, scaling, unanswerable) come from
    :func:`core.data.kinds.load_task_splits`.
    """
    kind = TaskKind.parse(kind)
    if kind is not TaskKind.SEQUENCE_CLASSIFICATION:
        from core.data.kinds import tokenize_task

        return tokenize_task(parts, names, ref, tokenizer, kind, extra or {})

    def tokenize(batch):
        pair = batch["text_pair"] if "text_pair" in batch else None
        enc = tokenizer(batch["text"], pair, truncation=True, max_length=ref.max_length)
        enc["labels"] = batch["label"]
        return enc

    tokenized = {}
    for name, ds in parts.items():
        tokenized[name] = ds.map(tokenize, batched=True, remove_columns=ds.column_names)
    check_vocabulary(tokenized["train"], tokenizer)
    return TaskData(tokenized["train"], tokenized["validation"], tokenized["test"], names, tokenizer,
                    ref.text_column, ref.text_pair_column, raw=dict(parts))
