"""Write a folder all at once: into a temporary sibling, moved into place only when complete.

A full disk, a missing permission or a failed verification leaves neither a
half-written target nor the temporary folder behind.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from core.errors import ExportError

TEMP_PREFIX = ".bert-studio-tmp-"


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
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise ExportError(f"{target} exists and is not a folder; choose another output folder")
        if not overwrite:
            raise ExportError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it")


@contextmanager
def staged_folder(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on success it becomes ``target``.

    An existing ``target`` is replaced only with ``overwrite=True``, and only
    after everything else succeeded.
    """
    target = Path(target).expanduser().resolve()
    check_target(target, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{target.name}-", dir=target.parent))
    except OSError as exc:
        raise ExportError(describe_os_error(exc, target.parent)) from exc
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
