"""Errors that carry a message meant for the user (GUI dialog or CLI line)."""

from __future__ import annotations

from dataclasses import dataclass


class StudioError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing explanation."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe: where it is (a step, a field) and what.

    ``step`` is the step's 0-based index in the stack (the studio's row), or
    None for the rest of the recipe; ``field`` a setting of that step, or a
    dotted recipe field (``data.max_length``), or None. ``str()`` is the line
    the user reads: ``step 2 (prune.magnitude), field 'sparsity': must be at most 0.99; got 2``.
    """

    message: str
    step: int | None = None
    method: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        if self.step is not None:
            where = f"step {self.step + 1}" + (f" ({self.method})" if self.method else "")
            if self.field is not None:
                where += f", field '{self.field}'"
        else:
            where = self.field
        return f"{where}: {self.message}" if where else self.message


class RecipeError(StudioError):
    """A recipe is malformed or its stack cannot run; lists every problem found (:class:`Problem`)."""

    def __init__(self, problems: list[Problem | str] | Problem | str):
        if isinstance(problems, (str, Problem)):
            problems = [problems]
        self.problems = [p if isinstance(p, Problem) else Problem(str(p)) for p in problems]
        super().__init__("Invalid recipe:\n" + "\n".join(f"  - {p}" for p in self.problems))


class ModelLoadError(StudioError):
    """The model source is not a loadable BERT-family model."""


class DataLoadError(StudioError):
    """The dataset source is missing, malformed, empty or lacks the mapped columns."""


class RunCancelled(Exception):
    """Raised inside a run when the user cancelled it; not an error."""


class ExportError(StudioError):
    """An export could not be written or did not verify."""
