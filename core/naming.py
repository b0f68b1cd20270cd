"""Names for runs that say what their stack does: ``fine-tune → heads 50 % → int8``.

A run used to be named after its recipe, so two different stacks opened from the
same example both read "quickstart". :func:`run_name` keeps a name the user
chose and otherwise names the run from its stack, the same way in the studio and
on the command line (the database recorder calls it). Each method's few words are
its own (``phrase`` on its :class:`~core.registry.MethodSpec`); :func:`pct` is the
helper their phrases share.
"""

from __future__ import annotations

from typing import Any, Iterable

from core.registry import get_method

UNNAMED = frozenset({"", "untitled"})
ARROW = " \u2192 "


def pct(value: Any) -> str:
    """A share as a percentage for a phrase: 0.472333 reads "47.2 %"; what is not a number reads as itself."""
    try:
        return f"{round(100 * float(value), 1):g} %"
    except (TypeError, ValueError):
        return str(value)


def step_phrase(method: str, settings: dict | None = None) -> str:
    """A few words for one step: ``heads 50 %``, ``4-bit``, ``fine-tune``; the method's name when unknown."""
    try:
        spec = get_method(method)
    except KeyError:
        return method
    return spec.step_phrase(settings)


def _steps_of(steps: Iterable[Any]) -> list[tuple[str, dict]]:
    out = []
    for step in steps:
        if isinstance(step, str):
            out.append((step, {}))
        elif isinstance(step, dict):
            out.append((str(step.get("method", "?")), step.get("settings") or {}))
        else:  # core.recipe.Step
            out.append((step.method, step.settings or {}))
    return out


def stack_name(steps: Iterable[Any]) -> str:
    """``fine-tune → heads 50 % → int8`` (repeats of one phrase in a row are written once with a count)."""
    phrases: list[list] = []
    for method, settings in _steps_of(steps):
        phrase = step_phrase(method, settings)
        if phrases and phrases[-1][0] == phrase:
            phrases[-1][1] += 1
        else:
            phrases.append([phrase, 1])
    if not phrases:
        return "empty stack"
    return ARROW.join(p if n == 1 else f"{p} x{n}" for p, n in phrases)


def run_name(recipe: Any) -> str:
    """The name a run of ``recipe`` (a :class:`~core.recipe.Recipe` or its dict) is recorded under.

    The recipe's own name when it has one; otherwise (empty or "untitled") the stack's name.
    """
    if isinstance(recipe, dict):
        name, steps = str(recipe.get("name") or ""), recipe.get("steps") or []
    else:
        name, steps = str(recipe.name or ""), recipe.steps
    return name if name.strip() not in UNNAMED else stack_name(steps)
