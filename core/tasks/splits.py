"""Train / validation / test splits for the task kinds, keeping related examples together.

The sizes are the studio's (:func:`core.data.task._split`): a sixth of the examples for test (at most 2,000) and a
tenth for validation (at most 1,000). Questions about one paragraph share their context, and sentences of one
document share their names; split apart, the model would be tested on text it trained on. So a ``group`` column
(QA: ``context``; CoNLL: a document number) keeps each group in one split. Groups are shuffled with ``seed`` and
taken whole until a split reaches its size.
"""

from __future__ import annotations

import random
from typing import Any

from core.errors import DataLoadError

MIN_EXAMPLES = 10


def split_sizes(n: int) -> tuple[int, int]:
    """(test, validation) sizes for ``n`` examples."""
    return min(2000, n // 6), min(1000, n // 10)


def grouped_split(ds, seed: int = 0, group: str | None = None) -> dict[str, Any]:
    """``{"train", "validation", "test"}`` subsets of ``ds``; rows with the same ``group`` value stay together."""
    n = len(ds)
    if n < MIN_EXAMPLES:
        raise DataLoadError(f"the dataset has only {n} examples; at least {MIN_EXAMPLES} are needed to make train, "
                            "validation and test splits")
    keys = ds[group] if group else list(range(n))
    members: dict[Any, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    order = list(members)
    random.Random(seed).shuffle(order)
    n_test, n_val = split_sizes(n)
    parts: dict[str, list[int]] = {"test": [], "validation": [], "train": []}
    for key in order:
        name = "test" if len(parts["test"]) < n_test else "validation" if len(parts["validation"]) < n_val else "train"
        parts[name].extend(members[key])
    if not parts["train"] or not parts["validation"] or not parts["test"]:
        raise DataLoadError(f"the {len(order)} groups of column {group!r} are too few or too uneven to make train, "
                            "validation and test splits")
    return {name: ds.select(sorted(rows)) for name, rows in parts.items()}
