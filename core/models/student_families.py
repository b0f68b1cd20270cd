"""The families of the non-transformer students, as plain data (no torch, no transformers).

:mod:`core.applicability` reads them to refuse, before a run, the methods that need a transformer's layers,
heads or hidden states; the models themselves live in :mod:`core.models.students`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# family (the student config's model_type) -> its title in messages
STUDENT_FAMILIES = {"bilstm": "BiLSTM student", "cnn": "CNN student"}
ARCHITECTURES = ("transformer", *STUDENT_FAMILIES)  # distill.student_init's choices
STUDENT_FILE = "studio_student.json"  # a student's folder holds this instead of config.json
STUDENT_NOTE = ("a BiLSTM / CNN student: no transformers class builds it, so the folder holds studio_student.json "
                "instead of config.json; load it with the studio (core.models.reload.load_model_folder)")

NEEDS_TRANSFORMER = ("it works on a transformer encoder's structure (its layers, attention heads, feed-forward "
                     "blocks or hidden states), which this student does not have")


def is_student_family(family: str) -> bool:
    return family in STUDENT_FAMILIES


def student_family(model: Any) -> str | None:
    """``bilstm`` / ``cnn`` for a student model (dynamic int8 keeps its config), None for any other model."""
    family = getattr(getattr(model, "config", None), "model_type", None)
    return family if isinstance(family, str) and family in STUDENT_FAMILIES else None


def is_student_folder(path: str | Path) -> bool:
    return (Path(path).expanduser() / STUDENT_FILE).is_file()
