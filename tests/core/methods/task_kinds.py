"""Small tasks of the four kinds beyond sentence classification, and tiny BERTs with their heads, for method tests.

Each task is read from the project's example files (``resources/examples/tasks``) with :mod:`core.tasks`' readers
and features, a few dozen examples per split, and batched as the HF heads take them (token labels padded with
-100, QA start / end positions, float targets). :class:`KindTask` has the attributes the methods read from the
run's task data (``kind``, ``loader``, ``split``, ``raw``, ``tokenizer``, ``label_names``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.models.loading import tiny_config
from core.models.state import ModelState
from core.tasks.kinds import TaskKind

EXAMPLES = Path(__file__).resolve().parents[3] / "resources" / "examples" / "tasks"
KINDS = (TaskKind.TOKEN_CLASSIFICATION, TaskKind.QUESTION_ANSWERING, TaskKind.REGRESSION, TaskKind.MULTI_LABEL)
SPLITS = ("train", "validation", "test")


@dataclass
class KindTask:
    train: Any
    validation: Any
    test: Any
    label_names: list[str]
    tokenizer: Any
    kind: TaskKind
    raw: dict[str, Any] | None = None
    scheme: Any = None
    scaling: Any = None
    unanswerable: int = 0

    def extras(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "scaling": self.scaling, "unanswerable": self.unanswerable}

    @property
    def num_labels(self) -> int:
        return {TaskKind.REGRESSION: 1, TaskKind.QUESTION_ANSWERING: 2}.get(self.kind, len(self.label_names))

    def split(self, name: str):
        return getattr(self, name)

    def collator(self):
        from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

        if self.kind is TaskKind.TOKEN_CLASSIFICATION:
            return DataCollatorForTokenClassification(self.tokenizer, label_pad_token_id=-100, return_tensors="pt")
        return DataCollatorWithPadding(self.tokenizer, return_tensors="pt")

    def loader(self, split: str, batch_size: int, shuffle: bool = False, seed: int = 0, limit: int | None = None):
        from torch.utils.data import DataLoader

        ds = self.split(split)
        if limit is not None and limit < len(ds):
            ds = ds.select(range(limit))
        ds = ds.remove_columns([c for c in ds.column_names if c.startswith("_")])
        return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed),
                          collate_fn=self.collator())


@functools.lru_cache(maxsize=1)
def tokenizer():
    from core.models.loading import load_tokenizer

    return load_tokenizer("tiny")


def _parts(ds, sizes=(32, 16, 16)) -> dict[str, Any]:
    out, start = {}, 0
    for name, n in zip(SPLITS, sizes):
        out[name] = ds.select(range(start, start + n))
        start += n
    return out


@functools.lru_cache(maxsize=None)
def kind_task(kind: TaskKind) -> KindTask:
    """A small task of ``kind`` from the example files (cached: tests must not change it)."""
    tok = tokenizer()
    if kind is TaskKind.TOKEN_CLASSIFICATION:
        from core.tasks.token_data import read_conll
        from core.tasks.token_features import tokenize_token_data

        data = read_conll(EXAMPLES / "ner.conll")
        raw = _parts(data.dataset)
        feats = {s: tokenize_token_data(raw[s], tok, data.label_names, data.scheme, 48) for s in SPLITS}
        return KindTask(**feats, label_names=list(data.label_names), tokenizer=tok, kind=kind, raw=raw,
                        scheme=data.scheme)
    if kind is TaskKind.QUESTION_ANSWERING:
        from core.tasks.qa_data import read_squad
        from core.tasks.qa_features import prepare_qa_features

        raw = _parts(read_squad(EXAMPLES / "qa_squad_v2.json").dataset, (24, 8, 8))
        feats = {s: prepare_qa_features(raw[s], tok, 64, 16) for s in SPLITS}
        return KindTask(**feats, label_names=[], tokenizer=tok, kind=kind, raw=raw)
    if kind is TaskKind.REGRESSION:
        from core.tasks.table_data import read_regression

        raw = _parts(read_regression(EXAMPLES / "regression.csv", label_column="score"))
        labels = "label"
        names: list[str] = []
    else:
        from core.tasks.table_data import read_multilabel

        data = read_multilabel(EXAMPLES / "multilabel.csv", label_columns=["sports", "music", "food", "travel",
                                                                           "technology"])
        raw, labels, names = _parts(data.dataset), "labels", list(data.label_names)

    def encode(batch):
        enc = tok(batch["text"], truncation=True, max_length=32)
        enc["labels"] = [[float(v) for v in row] if isinstance(row, list) else float(row) for row in batch[labels]]
        return enc

    feats = {s: raw[s].map(encode, batched=True, remove_columns=raw[s].column_names) for s in SPLITS}
    return KindTask(**feats, label_names=names, tokenizer=tok, kind=kind, raw=raw)


def kind_model(kind: TaskKind, task: KindTask | None = None, layers: int = 2, seed: int = 0) -> ModelState:
    """A random tiny BERT with the head of ``kind`` (the labels of ``task``)."""
    from transformers import (AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                              AutoModelForTokenClassification)

    task = task or kind_task(kind)
    torch.manual_seed(seed)
    if kind is TaskKind.TOKEN_CLASSIFICATION:
        model = AutoModelForTokenClassification.from_config(tiny_config(task.num_labels, num_hidden_layers=layers))
    elif kind is TaskKind.QUESTION_ANSWERING:
        model = AutoModelForQuestionAnswering.from_config(tiny_config(2, num_hidden_layers=layers))
    else:
        problem = "regression" if kind is TaskKind.REGRESSION else "multi_label_classification"
        model = AutoModelForSequenceClassification.from_config(
            tiny_config(task.num_labels, num_hidden_layers=layers, problem_type=problem))
    return ModelState(model=model.eval(), tokenizer=tokenizer(), source="tiny")
