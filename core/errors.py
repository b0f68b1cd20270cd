"""Errors that carry a message meant for the user (GUI dialog or CLI line)."""


class StudioError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing explanation."""


class RecipeError(StudioError):
    """A recipe is malformed or its stack cannot run; lists every problem found."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("Invalid recipe:\n" + "\n".join(f"  - {p}" for p in self.problems))


class ModelLoadError(StudioError):
    """The model source is not a loadable BERT-family model."""


class DataLoadError(StudioError):
    """The dataset source is missing, malformed, empty or lacks the mapped columns."""


class RunCancelled(Exception):
    """Raised inside a run when the user cancelled it; not an error."""


class ExportError(StudioError):
    """An export could not be written or did not verify."""
