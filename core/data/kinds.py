"""The data of the task kinds beyond sentence classification, read with :mod:`core.tasks`' readers.

Each kind's file is read by its reader (bad input refused with file, row and field), split into train /
validation / test with related examples kept together (a CoNLL document's sentences, one paragraph's questions),
capped by the recipe's sample counts and tokenized by :mod:`core.tasks`' features. The untokenized splits stay
with the :class:`~core.data.task.TaskData` (``raw``): the evaluation reads the gold tags, answers and targets there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.data.diagnose import DataNote
from core.errors import DataLoadError
from core.recipe import DataRef
from core.tasks.kinds import TaskKind

SPLITS = ("train", "validation", "test")


@dataclass
class RawTask:
    """A task's untokenized splits, as :func:`load_task_splits` (and, for sequence classification,
    :func:`core.data.task.read_splits`) read them."""

    parts: dict[str, Any]  # split -> untokenized datasets.Dataset
    label_names: list[str]
    extra: dict[str, Any] = field(default_factory=dict)  # scheme, scaling, unanswerable
    notes: tuple[DataNote, ...] = ()  # what reading did to the rows: dropped, merged, read as text


def _source(ref: DataRef, kind: TaskKind) -> Path:
    if ref.source == "default":
        raise DataLoadError(f"the default data is review sentences for sequence classification; a {kind.value} task "
                            "needs its own data file (see resources/examples/tasks)")
    return Path(ref.source).expanduser()


def _cap(parts: dict[str, Any], ref: DataRef) -> dict[str, Any]:
    for name, cap in (("train", ref.train_samples), ("validation", ref.validation_samples),
                      ("test", ref.test_samples)):
        if cap is not None and cap < len(parts[name]):
            parts[name] = parts[name].select(range(cap))
    return parts


def load_task_splits(ref: DataRef, kind: TaskKind | str) -> RawTask:
    """Read, split and cap the data of a task ``kind`` other than sequence classification (untokenized)."""
    from core.tasks.splits import task_splits

    kind = TaskKind.parse(kind)
    path = _source(ref, kind)
    if kind is TaskKind.TOKEN_CLASSIFICATION:
        from core.tasks.token_data import read_token_source

        options = ({"tag_column": ref.tag_column} if path.is_file() and path.suffix.lower() not in (".jsonl", ".json")
                   else {"tokens_field": ref.tokens_field, "tags_field": ref.tags_field})
        data = read_token_source(path, **options)
        parts = task_splits(path, data.dataset, lambda split: read_token_source(
            path, split=split, label_names=data.label_names, **options).dataset, ref.seed, "document")
        return RawTask(_cap(parts, ref), list(data.label_names), {"scheme": data.scheme})
    if kind is TaskKind.QUESTION_ANSWERING:
        from core.tasks.qa_data import read_qa_source

        data = read_qa_source(path)
        parts = task_splits(path, data.dataset, lambda split: read_qa_source(path, split).dataset, ref.seed, "context")
        unanswerable = sum(not a["text"] for part in parts.values() for a in part["answers"])
        return RawTask(_cap(parts, ref), [], {"unanswerable": unanswerable})
    if kind is TaskKind.REGRESSION:
        from core.tasks.table_data import Scaling, read_regression

        ds = read_regression(path, ref.text_column, ref.label_column, ref.text_pair_column)
        parts = _cap(task_splits(path, ds, lambda split: read_regression(
            path, ref.text_column, ref.label_column, ref.text_pair_column, split), ref.seed), ref)
        scaling = Scaling.fit(ref.target_scaling, parts["train"]["label"])  # the training split's statistics only
        return RawTask(parts, [], {"scaling": scaling})
    if kind is TaskKind.MULTI_LABEL:
        from core.tasks.table_data import read_multilabel

        columns = list(ref.label_columns) if ref.label_columns else ref.label_column
        data = read_multilabel(path, ref.text_column, columns, ref.text_pair_column, ref.label_separator)
        parts = task_splits(path, data.dataset, lambda split: read_multilabel(
            path, ref.text_column, columns, ref.text_pair_column, ref.label_separator, data.label_names, split).dataset,
            ref.seed)
        return RawTask(_cap(parts, ref), list(data.label_names))
    raise ValueError(f"{kind.value} data is read by core.data.task.load_splits")


def tokenize_task(parts: dict[str, Any], names: list[str], ref: DataRef, tokenizer, kind: TaskKind,
                  extra: dict[str, Any]):
    """The :class:`~core.data.task.TaskData` of raw splits from :func:`load_task_splits`."""
    from core.data.task import TaskData, check_vocabulary

    tokenized: dict[str, Any] = {}
    if kind is TaskKind.TOKEN_CLASSIFICATION:
        from core.tasks.token_features import tokenize_token_data

        for name, ds in parts.items():
            tokenized[name] = tokenize_token_data(ds, tokenizer, names, extra["scheme"], ref.max_length,
                                                  ref.label_pieces)
    elif kind is TaskKind.QUESTION_ANSWERING:
        from core.tasks.qa_features import prepare_qa_features

        for name, ds in parts.items():
            tokenized[name] = prepare_qa_features(ds, tokenizer, ref.max_length, ref.doc_stride)
    else:
        scaling = extra.get("scaling")

        def encode(batch):
            pair = batch["text_pair"] if "text_pair" in batch else None
            enc = tokenizer(batch["text"], pair, truncation=True, max_length=ref.max_length)
            if kind is TaskKind.REGRESSION:
                enc["labels"] = scaling.apply(batch["label"]) if scaling is not None else batch["label"]
            else:
                enc["labels"] = batch["labels"]
            return enc

        for name, ds in parts.items():
            tokenized[name] = ds.map(encode, batched=True, remove_columns=ds.column_names)
    check_vocabulary(tokenized["train"], tokenizer)
    return TaskData(tokenized["train"], tokenized["validation"], tokenized["test"], list(names), tokenizer,
                    raw=dict(parts), kind=kind, scheme=extra.get("scheme"), scaling=extra.get("scaling"),
                    unanswerable=int(extra.get("unanswerable") or 0))


def describe(task) -> str:
    """One line on the task's data, for ``validate`` and the run's log."""
    sizes = "/".join(str(len(task.raw[s]) if task.raw else len(task.split(s))) for s in SPLITS)
    unit = {TaskKind.TOKEN_CLASSIFICATION: "sentences", TaskKind.QUESTION_ANSWERING: "questions"}.get(task.kind, "rows")
    out = f"{task.kind.value}: {sizes} {unit} (train/validation/test)"
    if task.kind is TaskKind.TOKEN_CLASSIFICATION:
        scheme = task.scheme.value if task.scheme else "?"
        out += f", {len(task.label_names)} tags ({scheme}): {', '.join(task.label_names)}"
    elif task.kind is TaskKind.QUESTION_ANSWERING:
        out += f", {len(task.train)} training windows, {task.unanswerable} unanswerable questions in the file"
    elif task.kind is TaskKind.REGRESSION and task.scaling is not None:
        out += f", target scaling {task.scaling.kind}"
    elif task.label_names:
        out += f", {len(task.label_names)} labels: {', '.join(task.label_names)}"
    return out

