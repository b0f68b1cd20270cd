"""The one rule that turns a raw label value into the name of its class (for naming labels and encoding them)."""

from __future__ import annotations


def label_key(value) -> str:
    """The class name a raw label value stands for: ``1``, ``1.0`` and the text ``"1"`` are all class ``'1'``."""
    if isinstance(value, bool):  # pandas reads a column of true/false as booleans: two classes, not numbers
        return "true" if value else "false"
    if isinstance(value, (int, float)) and float(value).is_integer():
        return str(int(value))
    return str(value)
