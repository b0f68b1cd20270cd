"""Where Optuna keeps a search study's state: beside the runs, never in the studio's own tables.

Optuna's relational storage creates its own ``alembic_version``, ``studies`` and ``trials``
tables, which collide with ours in one database. So Optuna gets a place of its own, derived
from the studio's database URL, so that every worker given the same ``--db`` finds it:

- a SQLite file ``studio.db`` -> a second file ``studio.optuna.db`` beside it;
- PostgreSQL -> the schema ``optuna`` in the same database (``search_path``), created on first use;
- an in-memory SQLite database -> Optuna's in-memory storage (one process only).
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from core.study.spec import StudyError

OPTUNA_SCHEMA = "optuna"
_memory: dict[str, object] = {}
_lock = threading.Lock()


def optuna_place(db_url: str) -> tuple[str | None, dict]:
    """``(url, engine_kwargs)`` for Optuna's storage; url None means in-memory."""
    url = make_url(db_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = url.database or ""
        if name in ("", ":memory:") or name.startswith("file:"):
            return None, {}
        path = Path(name).expanduser()
        return url.set(database=str(path.with_name(path.stem + ".optuna" + (path.suffix or ".db")))) \
            .render_as_string(hide_password=False), {}
    if backend == "postgresql":
        return url.render_as_string(hide_password=False), {
            "connect_args": {"options": f"-c search_path={OPTUNA_SCHEMA}"}, "pool_pre_ping": True}
    raise StudyError(f"search studies keep Optuna's state beside the runs on SQLite or PostgreSQL; "
                     f"{backend} is not supported")


def optuna_storage(db_url: str, *, heartbeat_interval: int | None = None, grace_period: int | None = None):
    """Optuna's storage for studies recorded in ``db_url`` (see the module docstring).

    ``heartbeat_interval`` makes each running trial report that it lives; a trial silent for
    ``grace_period`` seconds is failed by the next worker that looks (a killed worker's trial).
    """
    import optuna

    url, engine_kwargs = optuna_place(db_url)
    if url is None:
        with _lock:
            return _memory.setdefault(db_url, optuna.storages.InMemoryStorage())
    if make_url(url).get_backend_name() == "postgresql":
        _ensure_schema(url)
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                                      grace_period=grace_period)


def _ensure_schema(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}")
    except sa.exc.IntegrityError:
        pass  # another worker created it at the same moment
    finally:
        engine.dispose()


def close_storage(storage) -> None:
    """Release a storage's database connections (Optuna's RDBStorage keeps a pool until disposed)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()
