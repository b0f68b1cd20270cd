"""Study rows: the shared trial budget, trials linked to runs, interrupted trials, cascades."""

from __future__ import annotations

import math
import threading
from datetime import datetime, timedelta, timezone

import pytest

from core.db import StudyNotFoundError, StudyRepository

from .conftest import record_run


@pytest.fixture
def studies(db):
    return StudyRepository(db)


def test_claims_stop_at_the_budget_and_never_repeat_across_threads(studies, db):
    study = studies.create_study("s", "search", {"kind": "search"}, max_trials=7)
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        from core.db import open_database

        with open_database(db.url) as own:  # each worker its own connection pool, as separate processes have
            mine = StudyRepository(own)
            while (slot := mine.claim_slot(study.id)) is not None:
                with lock:
                    got.append(slot)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(7))
    assert studies.get_study(study.id[:8]).claimed == 7


def test_deadline_and_status_end_the_claims(studies):
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    late = studies.create_study("late", "grid", {}, max_trials=None, deadline=past)
    assert studies.claim_slot(late.id) is None
    open_ended = studies.create_study("open", "grid", {}, max_trials=None)
    assert [studies.claim_slot(open_ended.id) for _ in range(3)] == [0, 1, 2]
    studies.set_status(open_ended.id, "cancelled")
    assert studies.claim_slot(open_ended.id) is None
    record = studies.get_study(open_ended.id)
    assert record.status == "cancelled" and record.ended_at is not None


def test_trials_link_runs_and_keep_their_values(studies, db, repo):
    study = studies.create_study("order", "order", {"kind": "order"}, max_trials=3)
    studies.add_trial(study.id, 0, label="A", params={"order": [2]}, worker="h:1")
    assert studies.link_run(study.id, 0, "not-yet") is False  # the run row does not exist yet
    record_run(db, "run-a")
    assert studies.link_run(study.id, 0, "run-a") is True
    studies.end_trial(study.id, 0, "finished", value=0.5)
    studies.add_trial(study.id, 1, label="B", status="skipped", note="cannot run after int8")
    studies.add_trial(study.id, 2, label="C")
    studies.end_trial(study.id, 2, "failed", value=math.nan, note="boom")
    trials = studies.get_study(study.id).trials
    assert [(t.number, t.label, t.status, t.run_id) for t in trials] == [
        (0, "A", "finished", "run-a"), (1, "B", "skipped", None), (2, "C", "failed", None)]
    assert trials[0].value == 0.5 and trials[0].params == {"order": [2]} and math.isnan(trials[2].value)
    assert trials[1].note == "cannot run after int8" and trials[1].ended_at is not None
    # Deleting the run unlinks the trial; deleting the study removes its trials, never the runs.
    repo.delete_run("run-a")
    assert studies.get_study(study.id).trials[0].run_id is None
    record_run(db, "run-b")
    studies.link_run(study.id, 2, "run-b")
    studies.delete_study(study.id)
    with pytest.raises(StudyNotFoundError):
        studies.get_study(study.id)
    assert repo.get_run("run-b").status == "finished"


def test_interrupting_a_trial_marks_its_running_run(studies, db, repo):
    study = studies.create_study("s", "search", {}, max_trials=2)
    record_run(db, "run-x", end="none")  # left 'running', as a killed worker leaves it
    studies.add_trial(study.id, 0, label="x")
    studies.link_run(study.id, 0, "run-x")
    studies.interrupt_trial(study.id, 0)
    trial = studies.get_study(study.id).trials[0]
    assert trial.status == "interrupted" and "stopped before it ended" in trial.note
    assert repo.get_run("run-x").status == "interrupted"
    studies.end_trial(study.id, 0, "finished")  # a finished trial is never re-interrupted
    studies.interrupt_trial(study.id, 0)
    assert studies.get_study(study.id).trials[0].status == "finished"


def test_unknown_and_ambiguous_ids(studies):
    studies.create_study("a", "grid", {}, max_trials=1, study_id="abc111")
    studies.create_study("b", "grid", {}, max_trials=1, study_id="abc222")
    assert studies.resolve_id("abc1") == "abc111"
    with pytest.raises(StudyNotFoundError, match="matches several"):
        studies.get_study("abc")
    with pytest.raises(KeyError, match="no study with id 'zzz'"):
        studies.get_study("zzz")
    assert [s.name for s in studies.list_studies()] in (["b", "a"], ["a", "b"])


class _ClockOff(datetime):
    """``datetime`` on a machine whose clock is ``offset`` off (set per test)."""

    offset = timedelta(0)

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + cls.offset


@pytest.mark.parametrize("minutes", [10, -10], ids=["ahead", "behind"])
def test_a_worker_whose_clock_is_off_neither_reaps_live_trials_nor_is_reaped(studies, monkeypatch, minutes):
    """Liveness uses the server's clock: a worker minutes ahead (or behind) of the others changes nothing."""
    import time

    import core.db.studies as module

    study = studies.create_study("skew", "grid", {}, max_trials=2)
    assert studies.claim_slot(study.id) == 0
    studies.add_trial(study.id, 0, label="A's", worker="a:1")  # worker A: a machine with a good clock
    studies.beat(study.id, [0])

    # worker B: the same database from a machine whose clock is ten minutes off
    _ClockOff.offset = timedelta(minutes=minutes)
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(module, "datetime", _ClockOff)
        m.setattr(time, "time", lambda: real() + 60 * minutes)
        assert studies.claim_slot(study.id) == 1
        studies.add_trial(study.id, 1, label="B's", worker="b:1")
        studies.beat(study.id, [1])
        assert studies.stale_trials(study.id, grace_s=120) == []  # B ahead: A's trial is not silent

    assert studies.stale_trials(study.id, grace_s=120) == []  # B behind: its fresh beat is not old to A
    beats = [t.heartbeat_at for t in studies.trials(study.id)]
    assert abs((beats[1] - beats[0]).total_seconds()) < 60  # both stamped by the one server clock
    assert [t.number for t in studies.stale_trials(study.id, grace_s=-1)] == [0, 1]  # a silent one is still found


@pytest.mark.parametrize("minutes", [10, -10], ids=["ahead", "behind"])
def test_a_study_budget_counts_on_the_servers_clock(studies, monkeypatch, minutes):
    """A time budget given by a machine whose clock is off still ends when the server says it does."""
    import time

    import core.study.studies as creating

    _ClockOff.offset = timedelta(minutes=minutes)
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: real() + 60 * minutes)
        m.setattr(creating, "datetime", _ClockOff, raising=False)
        study = studies.create_study("budget", "grid", {}, max_trials=3, seconds=300)
    assert (study.deadline - study.created_at).total_seconds() == pytest.approx(300, abs=1)
    assert studies.claim_slot(study.id) == 0  # 300 s left on the server's clock, whatever the creator's said
