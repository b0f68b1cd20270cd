"""A study worker process followed from outside (core.study.worker_process): a worker that cannot start is said."""

from __future__ import annotations

from core import events as ev
from core.study.worker_process import WorkerProcess, worker_command


def test_the_command_names_one_database_and_one_cache_for_every_worker(tmp_path):
    command = worker_command("sqlite:///x.db", "abc", tmp_path, resume=True, workdir_root=tmp_path / "runs",
                             cache_root=tmp_path / "cache", niceness=5)
    assert command[1:6] == ["-m", "core.cli", "study", "worker", "abc"]
    for option, value in (("--db", "sqlite:///x.db"), ("--cache", str(tmp_path / "cache")), ("--nice", "5"),
                          ("--events", str(tmp_path / "events.jsonl")), ("--control", str(tmp_path / "control"))):
        assert command[command.index(option) + 1] == value
    assert "--resume" in command


def test_a_worker_that_ends_before_joining_is_a_study_worker_failed_with_its_exit_code(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    worker = WorkerProcess(url, "no-such-study", tmp_path / "w").start()
    events = worker.wait(120)
    assert worker.process.returncode not in (0, None)
    assert len(events) == 1 and isinstance(events[0], ev.StudyWorkerFailed) and worker.ended is events[0]
    failed = events[0]
    assert f"exit code {worker.process.returncode}" in failed.error and "no-such-study" in failed.details
    assert worker.poll() == []  # said once
