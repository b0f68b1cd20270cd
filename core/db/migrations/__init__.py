"""Alembic migrations of the experiment database, run in code by :func:`core.db.database.open_database`."""
