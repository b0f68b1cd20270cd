"""The run's training split grown by a transfer set (:mod:`core.data.augment`) for ``distill.train``.

The augmented sentences are tokenized like the training split and labelled -100: only the teacher labels them
(the hard-label term leaves them out, :func:`core.methods.distillation.losses.distillation_loss`). The run's
own data is not changed: the step trains on its own copy, as task-agnostic distillation does.
"""

from __future__ import annotations

import dataclasses

from core.data.augment import Augmentation, transfer_set
from core.errors import StudioError
from core.methods.distillation.losses import IGNORED


def with_transfer_set(task, augmentation: Augmentation, seed: int, max_length: int):
    """``task`` whose train split also holds the augmented copies of its sentences; and how many were added."""
    import datasets

    raw = (task.raw or {}).get("train")
    if raw is None or "text" not in raw.column_names:
        raise StudioError("augmentation needs the training sentences as text; this run's data has none")
    tokenizer = task.tokenizer
    mask = getattr(tokenizer, "mask_token", None) or getattr(tokenizer, "unk_token", None) or "[MASK]"
    pairs = list(raw["text_pair"]) if "text_pair" in raw.column_names else None
    firsts, seconds = transfer_set(list(raw["text"]), augmentation, seed, mask, pairs)
    if not firsts:
        return task, 0
    columns = {"text": firsts, **({"text_pair": seconds} if pairs is not None else {})}
    extra = datasets.Dataset.from_dict(columns)

    def tokenize(batch):
        enc = tokenizer(batch["text"], batch.get("text_pair"), truncation=True, max_length=max_length)
        enc["labels"] = [IGNORED] * len(batch["text"])
        return enc

    extra = extra.map(tokenize, batched=True, remove_columns=extra.column_names)
    train = task.train
    extra = extra.select_columns([c for c in train.column_names if c in extra.column_names])
    missing = [c for c in train.column_names if c not in extra.column_names and not c.startswith("_")]
    if missing:
        raise StudioError(f"augmented sentences lack the training split's columns {missing}")
    base = train.remove_columns([c for c in train.column_names if c.startswith("_")])
    extra = extra.cast(datasets.Features({c: _signed(base.features[c]) for c in extra.column_names}))
    base = base.cast(extra.features)
    return dataclasses.replace(task, train=datasets.concatenate_datasets([base, extra])), len(firsts)


def _signed(feature):
    """A label column as plain integers (a ClassLabel cannot hold -100)."""
    import datasets

    return datasets.Value("int64") if isinstance(feature, datasets.ClassLabel) else feature
