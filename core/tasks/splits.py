"""Train / validation / test splits for the task kinds, keeping related examples together.

The sizes are the studio's (:func:`core.data.task._split`): a sixth of the examples for test (at most 2,000) and a
tenth for validation (at most 1,000). Questions about one paragraph share their context, and sentences of one
document share their names; split apart, the model would be tested on text it trained on. So a ``group`` column
(QA: ``context``; CoNLL: a document number) keeps each group in one split. Groups are shuffled with ``seed`` and
taken whole until a split reaches its size.

A ``save_to_disk`` folder holding a ``DatasetDict`` brings its own splits (:func:`task_splits`): its ``train``,
and its ``validation`` (or ``valid``, ``dev``) and ``test`` where saved, each read by the task's reader; a split
it lacks is made from its train split as above, the way sentence classification reads such a folder.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable

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


SAVED_NAMES = {"validation": ("validation", "valid", "dev"), "test": ("test",)}


def saved_split_names(source: str | Path) -> dict[str, str] | None:
    """``{our split: the saved split's name}`` of a ``save_to_disk`` folder holding a ``DatasetDict`` (``train``
    always, ``validation`` and ``test`` where saved); None for a file or a folder holding one ``Dataset``."""
    import datasets

    from core.data.sources import read_source

    path = Path(source).expanduser()
    if not path.is_dir():
        return None
    saved = read_source(str(path))
    if not isinstance(saved, datasets.DatasetDict):
        return None
    if "train" not in saved:
        raise DataLoadError(f"{path.name}: the saved dataset has splits {list(saved)} but no 'train' split")
    names = {"train": "train"}
    for ours, spellings in SAVED_NAMES.items():
        found = next((name for name in spellings if name in saved), None)
        if found is not None:
            names[ours] = found
    return names


def task_splits(source: str | Path, train, read: Callable[[str], Any], seed: int = 0,
                group: str | None = None) -> dict[str, Any]:
    """``{"train", "validation", "test"}`` of a task's data. ``train``: what the reader read from ``source`` (a
    file's every example, a saved ``DatasetDict``'s train split); ``read(name)``: the reader on the saved split
    ``name`` (with the training split's label names). A saved folder's own validation and test splits are kept;
    those it lacks are made from ``train`` by :func:`grouped_split` (the rest of ``train`` stays for training), and
    so are all three for a file."""
    names = saved_split_names(source) or {}
    if "validation" in names and "test" in names:
        return {"train": train, "validation": read(names["validation"]), "test": read(names["test"])}
    import datasets

    parts = grouped_split(train, seed, group)
    for ours in ("validation", "test"):
        if ours in names:  # the saved split replaces the one made; what was made for it goes back to training
            parts["train"] = datasets.concatenate_datasets([parts["train"], parts[ours]])
            parts[ours] = read(names[ours])
    return parts
