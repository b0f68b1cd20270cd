"""A worker out of slots waits for the slots other workers claimed: each gap timed from when it was first seen."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.study import runner as runner_module
from core.study.runner import StudyRunner


@dataclass
class Trial:
    status: str


@dataclass
class Record:
    claimed: int
    trials: list = field(default_factory=list)


class Studies:
    def __init__(self):
        self.record = Record(0)

    def get_study(self, study_id):
        return self.record


def test_a_slot_claimed_just_now_is_waited_for_even_after_an_old_gap(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(runner_module.time, "monotonic", lambda: clock[0])
    worker = StudyRunner(None, "s", grace_s=120)
    worker.studies = studies = Studies()
    # Another worker claimed slot 1 and has not recorded it yet: waited for.
    studies.record = Record(2, [Trial("finished")])
    assert worker._others_running()
    # It records and runs it for longer than the grace period.
    studies.record = Record(2, [Trial("finished"), Trial("running")])
    assert worker._others_running()
    clock[0] += 600
    # It finishes, and at once claims the last slot, not yet recorded: still a trial going, not a dead worker.
    studies.record = Record(3, [Trial("finished"), Trial("finished")])
    assert worker._others_running()
    clock[0] += 119
    assert worker._others_running()
    clock[0] += 2  # silent for longer than the grace period: a worker that died between claim and record
    assert not worker._others_running()
    # Nothing claimed and unrecorded, nothing running: the study is over.
    studies.record = Record(3, [Trial("finished")] * 3)
    assert not worker._others_running()
