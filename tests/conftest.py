"""Shared fixtures: offline environment, a private studio home, tiny models and data."""

from __future__ import annotations

import os
import tempfile

# Before datasets/transformers are imported anywhere: they read these at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_UPDATE_DOWNLOAD_COUNTS"] = "0"
os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["BERT_STUDIO_HOME"] = tempfile.mkdtemp(prefix="bert-studio-test-home-")

import pytest  # noqa: E402

from core.recipe import DataRef, EvaluationSettings, ModelRef, Recipe, Step  # noqa: E402
# A throwaway PostgreSQL server for the database and study tests (skipped where no server binary exists).
from tests.pg import any_db_url, postgres_server, postgres_url  # noqa: E402,F401


def tiny_recipe(*steps: Step, train: int = 128, name: str = "tiny") -> Recipe:
    """A recipe on the tiny random BERT and a small slice of the default data."""
    return Recipe(
        name=name,
        model=ModelRef("tiny"),
        data=DataRef(train_samples=train, validation_samples=64, test_samples=64, max_length=32),
        steps=list(steps),
        evaluation=EvaluationSettings(max_samples=64, latency_repeats=2, latency_batch_size=8),
    )


def method_context(tmp_path, task, state, teacher=None):
    """A real RunContext for calling method handlers directly.

    The teacher (baseline) is ``teacher`` or ``state``; every event lands in
    ``ctx.events`` and metric values by key in ``ctx.seen``.
    """
    import torch

    from core import events as ev
    from core.engine.context import RunContext
    from core.engine.control import RunControl

    ctx = RunContext("test", tiny_recipe(), ev.EventBus(), RunControl(), torch.device("cpu"), tmp_path, task=task)
    ctx.set_original(teacher or state)
    ctx.events, ctx.seen = [], {}
    ctx.bus.subscribe(ev.Event, ctx.events.append)
    ctx.bus.subscribe(ev.Metric, lambda e: ctx.seen.setdefault(e.key, []).append(e.value))
    return ctx


def apply_method(name: str, state, ctx, **settings):
    """Apply registered method ``name`` with ``settings`` (which must be valid)."""
    from core.applicability import apply_step
    from core.registry import build_config, get_method

    spec = get_method(name)
    cfg, errors = build_config(spec.config_cls, settings)
    assert not errors, errors
    out = apply_step(spec, state, cfg, ctx)
    ctx.settle(name)  # as the engine does after each step: a data transition the step declared takes effect
    return out


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models gain nothing from a second thread, and lose 50x to it on a shared machine's busy cores.

    A module opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_task():
    """The default data (small slices), tokenized once per test session."""
    from core.data.task import prepare_task
    from core.models.loading import load_tokenizer

    return prepare_task(tiny_recipe().data, load_tokenizer("tiny"))


@pytest.fixture
def tiny_state():
    """A fresh random tiny BERT classifier (2 layers, hidden 32, 4 heads, FFN 64)."""
    from core.models.loading import load_model

    return load_model("tiny", num_labels=2, seed=0)


@pytest.fixture
def engine(tmp_path):
    from core.engine import Engine

    return Engine(workdir_root=tmp_path / "runs")


@pytest.fixture(scope="session")
def warm_worker_engine(tmp_path_factory):
    """One warm run worker process (:class:`ProcessEngine`, the studio's engine) shared by the whole session."""
    from core.engine.process import ProcessEngine

    engine = ProcessEngine(workdir_root=tmp_path_factory.mktemp("worker-runs"))
    engine.warm_up()
    yield engine
    engine.close()


@pytest.fixture
def worker_engine(warm_worker_engine):
    """The session's warm worker, without a step cache for each test: a window's run controller points it at the
    cache beside its own database, and a later test's tiny run then found its fine-tune there and trained nothing
    (seen once the suite ran in workers, where a studio test could come before the engine's own tests)."""
    warm_worker_engine.cache_root = None
    yield warm_worker_engine
    warm_worker_engine.cache_root = None


def postgres_skips(reports) -> list:
    """The skipped test reports whose reason is the missing PostgreSQL server (:data:`tests.pg.NO_SERVER`)."""
    from tests.pg import NO_SERVER

    return [r for r in reports if isinstance(r.longrepr, tuple) and NO_SERVER in str(r.longrepr[-1])]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say loudly, in the closing lines, when the PostgreSQL half of the database tests did not run.

    A wrapper outside the terminal reporter's own: these lines come after its short summary, just above the
    final counts.
    """
    from tests.pg import NO_SERVER

    result = yield
    skipped = postgres_skips(terminalreporter.stats.get("skipped", []))
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} PostgreSQL tests SKIPPED", yellow=True, bold=True)
        terminalreporter.write_line(f"{NO_SERVER}.", yellow=True, bold=True)
        terminalreporter.write_line("Only SQLite was tested; set STUDIO_REQUIRE_POSTGRES=1 to make a missing server "
                                    "fail the run instead.", yellow=True)
    return result
