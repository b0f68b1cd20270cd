"""What a finished run leaves in its folder: the final model and the artifacts its record names, nothing more.

The engine writes no model checkpoint between steps: a prefix a later run can reuse goes to the step cache,
beside the database (:mod:`core.engine.cache`), and the run's own folder gets ``final/`` (what export, the
prediction preview and ``bert-studio export RUN`` load). A step may still write working files into its step
folder (:meth:`~core.engine.context.RunContext.step_dir`): vocabulary pruning saves the pruned tokenizer there
to load it back, a copy nothing reads once the final checkpoint carries its own. So when a run finishes, what
its step folders hold beyond the artifacts it recorded (:class:`~core.events.Checkpoint`: ``final``,
``sensitivity``) is removed, and step folders left empty go with it. A run that failed or was cancelled keeps
them to be looked at; this never raises into the run.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Iterable

log = logging.getLogger(__name__)

STEP_FOLDER = re.compile(r"step-\d+")  # RunContext.step_dir's names


def tidy_run_folder(workdir: Path, kept: Iterable[str | Path]) -> int:
    """Remove from ``workdir``'s step folders whatever no path of ``kept`` (the run's artifacts) names.

    Returns the bytes freed. Anything else in the folder (``final/``, a launch's logs) is left alone.
    """
    kept = [Path(p).resolve() for p in kept]
    freed = 0
    try:
        folders = [p for p in Path(workdir).iterdir() if p.is_dir() and STEP_FOLDER.fullmatch(p.name)]
    except OSError:
        return 0
    for folder in folders:
        try:
            freed += _prune(folder, kept)
        except OSError as exc:  # changed under us: the run's figures stand
            log.warning("could not tidy %s: %s", folder, exc)
        _remove_if_empty(folder)
    return freed


def _prune(folder: Path, kept: list[Path]) -> int:
    freed = 0
    for entry in list(folder.iterdir()):
        where = entry.resolve()
        if any(where == k or k in where.parents for k in kept):
            continue  # an artifact, or inside one
        if entry.is_dir() and not entry.is_symlink() and any(where in k.parents for k in kept):
            freed += _prune(entry, kept)  # holds an artifact deeper down
            _remove_if_empty(entry)
            continue
        size = _size(entry)
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            freed += size
        except OSError as exc:  # in use (Windows) or gone: the run's figures stand
            log.warning("could not remove %s from the run folder: %s", entry, exc)
    return freed


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty: it holds an artifact


def _size(path: Path) -> int:
    try:
        if path.is_file() or path.is_symlink():
            return path.lstat().st_size
        return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0
