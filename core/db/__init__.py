"""The experiment database: SQLAlchemy models, repository, recorder, Alembic migrations."""
