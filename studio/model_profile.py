"""What the studio knows of the chosen model before loading it: its family and whether it is int8 / k-bit.

Read from the folder's JSON files on every change of the recipe (no torch, a few
hundred bytes); the palette greys out what the model cannot take and the stack
editor flags the steps it cannot run, with the reasons of :mod:`core.models.adapters`.
That package imports torch (about 2 s): until the start-up warm-up has loaded
torch in the background, the family is "unknown" and nothing is refused here (the
window checks again once warmed up; ``bert-studio run`` and the engine refuse too).
"""

from __future__ import annotations

import sys

from core.errors import Problem
from core.recipe import Recipe


def torch_loaded() -> bool:
    return "torch" in sys.modules


def model_profile(source: str) -> tuple[str, bool]:
    """``(family, quantized)`` of ``source``; ``("", False)`` when unknown (a hub name, an unreadable folder)."""
    if not torch_loaded():  # importing it here would freeze the window; see the module docstring
        return "", False
    from core.models.adapters import source_profile

    try:
        family, quantized = source_profile(str(source))
    except Exception:  # the loader reports an unreadable folder, with its own message, when it is chosen
        return "", False
    return (family if family and family != "None" else ""), bool(quantized)


def family_problems(recipe: Recipe, profile: tuple[str, bool]) -> list[Problem]:
    """The steps of ``recipe`` that the model ``profile`` describes cannot take."""
    from core.applicability import recipe_problems

    family, quantized = profile
    if not family:
        return []
    return recipe_problems(recipe, family=family, quantized=quantized)
