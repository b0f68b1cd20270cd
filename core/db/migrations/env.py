"""Alembic environment: migrates the connection handed over by ``open_database``.

Run in code, never from an ``alembic.ini``: :func:`core.db.database.alembic_config`
builds the Config and puts the open connection in ``config.attributes``. A URL in
``sqlalchemy.url`` is used instead when no connection is given (developer use:
``alembic -x`` style autogeneration against a scratch file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from core.db.schema import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
