"""Fixtures for the database tests: a fresh database file and synthetic recorded runs."""

from __future__ import annotations

import time

import pytest

from core import events as ev


@pytest.fixture
def db_url(any_db_url):
    """Every database test runs on a SQLite file and on PostgreSQL (tests/pg.py)."""
    return any_db_url


@pytest.fixture
def db(db_url):
    from core.db import open_database

    database = open_database(db_url)
    yield database
    database.close()


@pytest.fixture
def repo(db):
    from core.db import Repository

    return Repository(db)


def record_run(db, run_id: str, *, name: str = "run", end: str = "finished", losses=(0.9, 0.7, 0.5),
               results: dict | None = None, started: float | None = None, model: str = "tiny") -> None:
    """Publish a one-step run through a Recorder, as the engine would."""
    from core.db import Recorder

    t0 = time.time() if started is None else started
    bus = ev.EventBus()
    recipe = {"name": name, "model": {"source": model}, "data": {"source": "default"},
              "steps": [{"method": "finetune", "settings": {}}]}
    with Recorder(db, bus):
        bus.publish(ev.RunStarted(run_id=run_id, recipe=recipe, device="cpu", step_titles=("Fine-tune",), time=t0))
        bus.publish(ev.StepStarted(run_id=run_id, index=0, method="finetune", title="Fine-tune", time=t0 + 1))
        for i, loss in enumerate(losses, 1):
            bus.publish(ev.Metric(run_id=run_id, key="train/loss", value=loss, step=i, index=0, time=t0 + 1 + i))
        bus.publish(ev.Checkpoint(run_id=run_id, index=0, path=f"/runs/{run_id}/step-01", time=t0 + 9))
        bus.publish(ev.StepFinished(run_id=run_id, index=0, method="finetune", summary={"parameters": 100},
                                    time=t0 + 10))
        if end == "finished":
            bus.publish(ev.RunFinished(run_id=run_id, results=results or {"accuracy": 0.8}, time=t0 + 11))
        elif end == "failed":
            bus.publish(ev.RunFailed(run_id=run_id, error="boom", details="Traceback...", time=t0 + 11))
        elif end == "cancelled":
            bus.publish(ev.RunCancelled(run_id=run_id, time=t0 + 11))
