"""What differs between kinds of study: how a trial slot becomes a recipe, and what is told back.

Order and grid studies follow their plan (:class:`Planned`); a search asks Optuna
(:class:`core.study.search.SearchTrials`). Both have the same surface, used by :mod:`core.study.runner`.
"""

from __future__ import annotations

from core.study.plan import Prepared, plan
from core.study.spec import StudySpec


class Planned:
    """Order and grid studies: slot ``n`` is the plan's ``n``-th trial."""

    prunes = False

    def __init__(self, spec: StudySpec):
        self.trials = plan(spec)

    def prepare(self, slot: int) -> Prepared:
        t = self.trials[slot]
        return Prepared(t.label, t.recipe, dict(t.params), tuple(t.problems))

    def report(self, prepared: Prepared, value: float, step: int) -> bool:
        return False

    def finished(self, prepared: Prepared, status: str, figures: dict) -> None:
        pass

    def skipped(self, prepared: Prepared) -> None:
        pass

    def interrupted(self, trial) -> None:
        pass

    def close(self) -> None:
        pass


def trial_kind(spec: StudySpec, db_url: str, study_id: str):
    """The trial source of ``spec``'s kind; ``db_url`` is the database's full URL (Optuna's storage lives there)."""
    if spec.kind == "search":
        from core.study.search import SearchTrials

        return SearchTrials(spec, db_url, study_id)
    return Planned(spec)
