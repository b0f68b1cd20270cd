"""Errors raised by the experiment database, each a complete user-facing sentence."""

from __future__ import annotations

from core.errors import StudioError


class DatabaseError(StudioError):
    """The database cannot be opened or used: corrupt, foreign, too new or unreachable.

    Raised before anything is written, so the user's file is left exactly as it was.
    """


class DatabaseMissingError(DatabaseError):
    """A command that only reads found no database file at the path; nothing was created."""


class RunNotFoundError(StudioError, KeyError):
    """No run has this id (or id prefix). A ``KeyError`` so ``except KeyError`` callers work too."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousRunIdError(RunNotFoundError):
    """An id prefix matches more than one run; ``candidates`` lists the full ids."""

    def __init__(self, prefix: str, candidates: list[str]):
        self.prefix = prefix
        self.candidates = list(candidates)
        shown = ", ".join(c[:12] for c in self.candidates[:5])
        more = "" if len(self.candidates) <= 5 else f" and {len(self.candidates) - 5} more"
        super().__init__(f"the run id prefix {prefix!r} matches several runs ({shown}{more}); type more characters")


class StudyNotFoundError(StudioError, KeyError):
    """No study has this id (or the prefix is ambiguous)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
