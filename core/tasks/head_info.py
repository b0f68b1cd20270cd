"""What a model's head is for, in words for the inspector and the data panel: its task, class and outputs.

:func:`core.models.task_head.folder_head` reads a model folder's ``config.json`` (what the folder was
fine-tuned for, before any head the studio adds); :func:`model_head` reads a loaded model (a run's final model
keeps the head it was trained with). Both answer the same dict: ``task`` (the recipe spelling, or None for a folder without a task head),
``head`` (the class), ``outputs``, ``labels`` and ``reason`` (the evidence).
"""

from __future__ import annotations

from typing import Any

from core.tasks.kinds import Detection, detect_task

NO_HEAD = "no task head: a new head is made for the task chosen in the data panel"


def as_dict(detection: Detection, head: str) -> dict[str, Any]:
    return {"task": detection.kind.value if detection.kind else None, "head": head, "outputs": detection.num_labels,
            "labels": list(detection.label_names), "reason": detection.reason}


def model_head(model) -> dict[str, Any]:
    """The head of a loaded ``model`` (its class decides, refined by the config's ``problem_type``)."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        return {"task": None, "head": type(model).__name__, "outputs": None, "labels": [], "reason": ""}
    data = config.to_dict()
    data["architectures"] = [type(model).__name__]
    return as_dict(detect_task(data), type(model).__name__)


def head_text(head: dict[str, Any] | None) -> str:
    """One line: ``token-classification: BertForTokenClassification, 5 outputs (O, B-PER, ...)``."""
    if not head:
        return ""
    if not head.get("task"):
        return head.get("reason") or NO_HEAD
    outputs = head.get("outputs")
    labels = head.get("labels") or []
    shown = ", ".join(labels[:8]) + (", \u2026" if len(labels) > 8 else "")
    count = "" if outputs is None else (f", {outputs} output" + ("s" if outputs != 1 else ""))
    return f"{head['task']}: {head.get('head') or 'head'}{count}" + (f" ({shown})" if shown else "")
