"""Two `bert-studio study worker` processes on one study against PostgreSQL; one is killed mid-trial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.recipe import Step
from core.study.runner import create_study
from core.study.spec import StudySpec
from tests.core.study.test_runner import HEADS, fast

ROOT = Path(__file__).parents[3]


def worker(study_id: str, url: str, log: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "core.cli", "study", "worker", study_id, "--db", url, "--quiet",
            "--heartbeat", "0.5", "--grace", "6"]
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition, timeout: float, what: str, procs=()):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        for p in procs:
            assert p.poll() is None, f"a worker exited early ({p.returncode}) while waiting for {what}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_share_a_study_and_one_killed_mid_trial_is_marked_interrupted(postgres_url, tmp_path):
    from core.db import Repository, StudyRepository, open_database

    template = fast(Step("finetune", {"max_steps": 2}), HEADS)
    spec = StudySpec.from_dict({"kind": "grid", "name": "two workers", "recipe": template.to_dict(),
                                "grid": {"variants": [{"name": f"heads {a}", "settings": {2: {"amount": a}}}
                                                      for a in (0.25, 0.5, 0.75)]}})
    study_id = create_study(spec, postgres_url)
    db = open_database(postgres_url)
    studies, repo = StudyRepository(db), Repository(db)

    def trials_of(proc, status):
        return [t for t in studies.trials(study_id) if (t.worker or "").split(":")[1:2] == [str(proc.pid)]
                and t.status == status]

    a = worker(study_id, postgres_url, tmp_path / "a.log")
    b = worker(study_id, postgres_url, tmp_path / "b.log")
    try:
        # A is killed once its first trial's run is recorded (so there is a run to lose), before that run ends.
        victim = wait_for(lambda: [t for t in trials_of(a, "running") if t.run_id], 240,
                          "worker A's first trial", [a, b])[0]
        a.send_signal(signal.SIGKILL)  # mid-trial: no chance to tidy up
        a.wait(30)
        assert b.wait(240) == 0, (tmp_path / "b.log").read_text()
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(30)

    record = studies.get_study(study_id)
    trials = record.trials
    try:
        assert record.status == "finished" and record.claimed == 3
        assert [t.number for t in trials] == [0, 1, 2]  # every slot exactly once
        by_status = {t.number: t.status for t in trials}
        assert by_status[victim.number] == "interrupted"
        assert sorted(n for n, s in by_status.items() if s == "finished") == sorted({0, 1, 2} - {victim.number})
        # A died in its first trial, so B ran every other one.
        assert all(t.worker.split(":")[1] == str(b.pid) for t in trials if t.number != victim.number)
        # No lost rows: every trial links its run; finished runs have their figures and metric series.
        runs = {r.id: r for r in repo.list_runs()}
        assert set(runs) == {t.run_id for t in trials}
        for t in trials:
            run = repo.get_run(t.run_id)
            if t.status == "finished":
                assert run.status == "finished" and repo.results(run.id)["accuracy"] >= 0
                assert "final/accuracy" in repo.metric_keys(run.id)
                assert t.value == t.value  # a score was recorded
            else:
                assert run.status == "interrupted" and "stopped before it ended" in t.note
        assert "this worker ran 2 trial(s)" in (tmp_path / "b.log").read_text()
        assert "interrupted" in (tmp_path / "b.log").read_text()  # B said what it found
    finally:
        db.close()
