"""Write a folder all at once: into a temporary sibling, moved into place only when complete.

A full disk, a missing permission or a failed verification leaves neither a
half-written target nor the temporary folder behind.

Every folder written here carries a small marker file (:data:`MARKER`), and an
existing folder is replaced only when it carries one (or is empty, or is an
export written before the marker existed): ``--overwrite`` pointed at the
studio's home, a database's folder or any folder of the user's is refused with
the reason, never emptied. Folders that hold the studio's home, the default
database or a path a command registered with :func:`protect` are never
replaced, marker or not.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from core.errors import ExportError

TEMP_PREFIX = ".bert-studio-tmp-"
MARKER = ".bert-studio-export"  # written into every staged folder: what makes it safe to replace later
MARKER_TEXT = json.dumps({"written_by": "BERT Compression Studio", "kind": "staged-folder", "version": 1}) + "\n"
# An export written before the marker existed: its model card's first paragraph says who wrote it.
_LEGACY_CARD = "exported by BERT Compression Studio"
_protected: set[Path] = set()


def protect(path: str | Path) -> None:
    """Never replace ``path`` or a folder holding it in this process (a command registers the database it opened)."""
    _protected.add(Path(path).expanduser().resolve())


def _protected_paths() -> list[tuple[Path, str]]:
    """The paths an overwrite must never remove, each with how the refusal names it."""
    from core.env import default_database_url, studio_home

    home = "the studio's home folder (its database, every run's checkpoint, the step cache)"
    found = [(studio_home().resolve(), home)]
    url = default_database_url()
    if url.startswith("sqlite:///"):
        found.append((Path(url[len("sqlite:///"):].split("?")[0]).expanduser().resolve(), "the studio database"))
    found += [(p, "the studio database this command opened") for p in sorted(_protected)]
    return found


def describe_os_error(exc: OSError, where: Path) -> str:
    """A user-facing sentence for a write failure."""
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return f"the disk holding {where} is full ({exc.strerror or exc}); free some space and export again"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {where}; choose another folder"
    if exc.errno == errno.EROFS:
        return f"{where} is on a read-only file system"
    return f"could not write {where}: {exc}"


def check_target(target: Path, overwrite: bool) -> None:
    """Refuse, with the reason, a ``target`` that exists and may not be replaced.

    Replaceable: only with ``overwrite``, and only a folder an earlier export wrote (its marker), or an empty one;
    never one that is, or holds, the studio's home or a database (see :func:`protect`).
    """
    if not (target.exists() or target.is_symlink()):
        return
    if not target.is_dir():
        raise ExportError(f"{target} exists and is not a folder; choose another output folder")
    resolved = target.resolve()
    for path, what in _protected_paths():
        if path == resolved or resolved in path.parents:
            holds = "is" if path == resolved else f"holds {path}:"
            raise ExportError(f"{target} {holds} {what}; an export never replaces it. Nothing was changed; "
                              f"choose a new output folder")
    if not overwrite:
        raise ExportError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it")
    if not _written_by_export(target):
        raise ExportError(f"{target} was not written by an export (it has no {MARKER} file), so --overwrite does "
                          f"not replace it: that would delete what it holds. Nothing was changed; choose a new "
                          f"output folder, or remove this one yourself")


def _written_by_export(folder: Path) -> bool:
    """Whether ``folder`` is empty, carries the marker, or is a marker-less export of an earlier version."""
    try:
        entries = list(folder.iterdir())
        if not entries:
            return True
        if (folder / MARKER).is_file():
            return True
        card = folder / "README.md"
        # Exports before the marker: only plain files, among them the model card naming the studio.
        return all(e.is_file() and not e.is_symlink() for e in entries) and card.is_file() and \
            _LEGACY_CARD in card.read_text(errors="replace")[:2000]
    except OSError:
        return False


@contextmanager
def staged_folder(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``target`` (empty but for the marker); on success it becomes ``target``.

    An existing ``target`` is replaced only with ``overwrite=True``, only when
    :func:`check_target` allows it, and only after everything else succeeded.
    """
    target = Path(target).expanduser().resolve()
    check_target(target, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{target.name}-", dir=target.parent))
    except OSError as exc:
        raise ExportError(describe_os_error(exc, target.parent)) from exc
    try:
        (tmp / MARKER).write_text(MARKER_TEXT)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(describe_os_error(exc, target)) from exc
    try:
        try:
            yield tmp
            _apply_umask(tmp)
        except OSError as exc:
            raise ExportError(describe_os_error(exc, target)) from exc
        _move_into_place(tmp, target, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (another thread may create files)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _apply_umask(tmp: Path) -> None:
    """Give the finished folder the modes a plain ``mkdir`` / ``open`` would have.

    ``mkdtemp`` makes the folder 0700 and safetensors writes its file through a
    0600 temporary file; an export is meant to be shared like any other file.
    """
    mask = current_umask()
    for root, dirs, files in os.walk(tmp):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~mask)


def _move_into_place(tmp: Path, target: Path, overwrite: bool) -> None:
    check_target(target, overwrite)  # someone may have created it meanwhile
    old = None
    try:
        if target.exists():
            old = target.parent / f"{TEMP_PREFIX}old-{target.name}-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
        os.replace(tmp, target)
    except OSError as exc:
        if old is not None and not target.exists():
            os.replace(old, target)  # put the previous export back
        raise ExportError(describe_os_error(exc, target)) from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
