import datasets
import pytest

from core.errors import DataLoadError
from core.tasks.splits import grouped_split


def test_groups_stay_in_one_split_and_sizes_follow_the_studio():
    ds = datasets.Dataset.from_dict({"context": [f"c{i // 3}" for i in range(120)], "x": list(range(120))})
    parts = grouped_split(ds, seed=1, group="context")
    seen = {name: set(part["context"]) for name, part in parts.items()}
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["validation"])
    assert not (seen["test"] & seen["validation"])
    assert sum(len(p) for p in parts.values()) == 120
    assert 20 <= len(parts["test"]) <= 22 and 12 <= len(parts["validation"]) <= 14  # 120 // 6, 120 // 10, whole groups
    assert grouped_split(ds, seed=1, group="context")["test"]["x"] == parts["test"]["x"]


def test_ungrouped_and_too_small():
    ds = datasets.Dataset.from_dict({"x": list(range(60))})
    parts = grouped_split(ds)
    assert (len(parts["test"]), len(parts["validation"]), len(parts["train"])) == (10, 6, 44)
    with pytest.raises(DataLoadError, match="only 5 examples"):
        grouped_split(datasets.Dataset.from_dict({"x": list(range(5))}))
    with pytest.raises(DataLoadError, match="groups of column 'g' are too few"):
        grouped_split(datasets.Dataset.from_dict({"g": ["a"] * 30}), group="g")
