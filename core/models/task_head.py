"""What a model folder's ``config.json`` says its head is for (:func:`folder_head`), before any head the studio
adds; in the terms of :mod:`core.tasks.head_info`. Reads the config only: no torch, so the studio calls it on
the GUI thread when a model is chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import ModelLoadError
from core.models.folder import detect_folder
from core.tasks.head_info import NO_HEAD, as_dict


def folder_head(source: str) -> dict[str, Any]:
    """The head of the model folder ``source`` as its ``config.json`` says (the embedded default and the tiny
    model, and a folder without a task head, have none)."""
    none = {"task": None, "head": "", "outputs": None, "labels": [], "reason": NO_HEAD}
    if source in ("default", "tiny"):  # core.models.loading's sources (it imports torch)
        return none
    path = Path(source).expanduser()
    if not (path / "config.json").is_file():
        return none
    try:
        detection = detect_folder(path)
    except ModelLoadError:
        return none
    if detection.kind is None:
        return {**none, "reason": f"{detection.reason}; {NO_HEAD}"}
    head = detection.reason.split("names ", 1)[-1].split(" ", 1)[0] if "names " in detection.reason else ""
    return as_dict(detection, head)
