"""Qt fixtures for the studio tests: a temporary database, recorded dialogs, a main window."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from core.recipe import Recipe, Step
from tests.conftest import tiny_recipe


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_on_the_gui_thread(qapp):
    """As the studio does (studio.app.application): Python's cycle collector runs only on the GUI thread."""
    from studio.app import collect_garbage_on_gui_thread

    collect_garbage_on_gui_thread(qapp)
    yield


@dataclass
class DialogLog:
    """What the studio tried to show instead of blocking on modal dialogs."""

    errors: list[tuple[str, str, str]] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    answer: bool = True


@pytest.fixture
def dialogs(monkeypatch) -> DialogLog:
    from studio.dialogs import errors

    log = DialogLog()
    monkeypatch.setattr(errors, "show_error", lambda parent, title, message, details="": log.errors.append((title, message, details)))

    def ask(parent, title, question):
        log.questions.append(question)
        return log.answer

    monkeypatch.setattr(errors, "ask_yes_no", ask)
    # Unsaved changes (Save / Discard / Cancel): a yes discards, a no cancels.
    monkeypatch.setattr(errors, "ask_save_discard_cancel", lambda p, t, q: "discard" if ask(p, t, q) else "cancel")
    return log


@pytest.fixture
def db_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'studio-test.db'}"
    monkeypatch.setenv("BERT_STUDIO_DB", url)
    return url


def stored_runs(url: str, *ids: str):
    """The run records ``ids`` and their metric series ({id: {key: points}}), read as the studio reads them."""
    from studio.runs_store import DatabaseRunsStore

    store = DatabaseRunsStore(url)
    try:
        return [store.get_run(i) for i in ids], {i: {k: store.metric_series(i, k) for k in store.metric_keys(i)}
                                                 for i in ids}
    finally:
        store.close()


def shown(qtbot, widget, width: int, height: int):
    """``widget`` at ``width`` x ``height``, shown and exposed (deleted by pytest-qt after the test)."""
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def quick_recipe(max_steps: int = 3, **finetune) -> Recipe:
    """The tiny recipe of the brief: random tiny BERT, 64/32/32 sentences, one short fine-tuning step."""
    recipe = tiny_recipe(Step("finetune", {"max_steps": max_steps, "batch_size": 16, **finetune}), train=64)
    recipe.data.validation_samples = 32
    recipe.data.test_samples = 32
    recipe.evaluation.max_samples = 32
    recipe.evaluation.latency_repeats = 2
    recipe.evaluation.latency_batch_size = 8
    return recipe


@pytest.fixture
def window(qtbot, tmp_path, db_url, dialogs, worker_engine):
    """The main window on the default recipe, with private settings and database, running recipes as the studio does."""
    from studio.main_window import MainWindow
    from studio.settings import StudioSettings

    win = MainWindow(settings=StudioSettings(str(tmp_path / "studio.ini")), engine=worker_engine)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.controller.shutdown(30)
    win.store.close()


def record_run(url: str, recipe: Recipe, results: dict, losses: tuple[float, ...] = (), accuracies: tuple[float, ...] = (),
               status: str = "finished") -> str:
    """Write one run into the database at ``url`` through the real recorder, from events (no training)."""
    import uuid

    from core import events as ev
    from core.db import Recorder, open_database

    run_id = uuid.uuid4().hex
    bus = ev.EventBus()
    with open_database(url) as db, Recorder(db, bus):
        bus.publish(ev.RunStarted(run_id, recipe=recipe.to_dict(), device="cpu",
                                  step_titles=tuple(s.title() for s in recipe.steps)))
        for step, loss in enumerate(losses, start=1):
            bus.publish(ev.Metric(run_id, key="train/loss", value=loss, step=step, index=0))
        for step, acc in enumerate(accuracies, start=1):
            bus.publish(ev.Metric(run_id, key="val/accuracy", value=acc, step=step * 2, index=0))
        if status == "finished":
            bus.publish(ev.RunFinished(run_id, results=results))
        else:
            bus.publish(ev.RunFailed(run_id, error="the data file has no 'text' column", details="Traceback: ..."))
    return run_id


class Clock:
    """The dashboard's ``time.monotonic``, set by the test (``clock.now += 30``)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    from studio.widgets import dashboard as dashboard_module

    c = Clock()
    monkeypatch.setattr(dashboard_module.time, "monotonic", c)
    return c
