"""Read a dataset source into ``datasets`` objects, with clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

from core.data.diagnose import describe_failure
from core.errors import DataLoadError

DEFAULT_SOURCE = "default"
_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def read_source(source: str):
    """Return a ``Dataset`` or ``DatasetDict`` for ``source``.

    ``source`` is ``default``, a CSV/TSV/JSON/JSON Lines/Parquet file, or a
    folder written by ``save_to_disk``.
    """
    if source == DEFAULT_SOURCE:
        from core.data.default import load_default_dataset

        return load_default_dataset()
    import datasets

    path = Path(source).expanduser()
    if not path.exists():
        raise DataLoadError(f"no dataset at {path}")
    if path.is_dir():
        try:
            return datasets.load_from_disk(str(path))
        except Exception as exc:
            raise DataLoadError(f"{path} is a folder but not a dataset saved with save_to_disk ({exc})") from None
    builder = _BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise DataLoadError(f"{path.name}: unsupported file type {path.suffix!r}; use CSV, TSV, JSON Lines, Parquet or a save_to_disk folder")
    if path.stat().st_size == 0:
        raise DataLoadError(f"{path.name} is empty")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    kwargs = {"delimiter": delimiter} if builder == "csv" else {}
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # it logs the parser error we report below
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as exc:  # datasets wraps the parser's error; say what the parser found, and where
        reason = describe_failure(path, builder, exc, delimiter)
        raise DataLoadError(f"{path.name} could not be read as {builder.upper()}: {reason}") from None
    finally:
        datasets.logging.set_verbosity(verbosity)
    return ds
