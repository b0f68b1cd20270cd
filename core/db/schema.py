"""ORM rows of the experiment database; they never leave ``core.db`` (see :mod:`core.db.domain`).

Changing anything here needs a new migration in ``core/db/migrations/versions``;
``tests/core/db/test_migrations.py`` fails while the two disagree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Text, TypeDecorator,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

RUN_STATUSES = ("running", "finished", "failed", "cancelled", "interrupted")
STEP_STATUSES = ("pending", "running", "finished", "failed", "cancelled", "interrupted")


class UTCDateTime(TypeDecorator):
    """Stores naive UTC (SQLite keeps no zone) and always returns aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


# Named constraints let later migrations alter SQLite tables in batch mode.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    recipe: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    model_source: Mapped[str] = mapped_column(String(500), default="")
    data_source: Mapped[str] = mapped_column(String(500), default="")
    device: Mapped[str] = mapped_column(String(50), default="")
    error: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    # The final figures again, so a run list can show them without a query per run.
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Who records the run: lets another process tell a live run from one whose recorder died.
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))

    steps: Mapped[list[StepRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True, order_by="StepRow.index")
    metrics: Mapped[list[MetricRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    results: Mapped[list[ResultRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    artifacts: Mapped[list[ArtifactRow]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ArtifactRow.id")


class StepRow(Base):
    __tablename__ = "steps"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    method: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)

    run: Mapped[RunRow] = relationship(back_populates="steps")


class MetricRow(Base):
    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_key", "run_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    step: Mapped[int] = mapped_column(Integer)
    # NULL stands for NaN: SQLite cannot store NaN in a REAL column.
    value: Mapped[float | None] = mapped_column(Float)
    time: Mapped[float] = mapped_column(Float)  # seconds since the epoch, as in the event
    step_index: Mapped[int] = mapped_column(Integer, default=-1)  # which recipe step emitted it


class ResultRow(Base):
    __tablename__ = "results"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)


class ArtifactRow(Base):
    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    path: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


STUDY_STATUSES = ("running", "finished", "failed", "cancelled", "interrupted")  # failed: every trial was skipped
TRIAL_STATUSES = ("running", "finished", "pruned", "failed", "cancelled", "interrupted", "skipped")


class StudyRow(Base):
    """A study: a template recipe, what varies, an objective and a budget (``spec``)."""

    __tablename__ = "studies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    # The budget shared by every worker: trial slots are claimed by one atomic UPDATE of ``claimed``.
    max_trials: Mapped[int | None] = mapped_column(Integer)
    deadline: Mapped[datetime | None]
    claimed: Mapped[int] = mapped_column(Integer, default=0)

    trials: Mapped[list[StudyTrialRow]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="StudyTrialRow.number")


class StudyTrialRow(Base):
    """One trial of a study; ``run_id`` links the ordinary run it made (NULL until the run row exists)."""

    __tablename__ = "study_trials"
    __table_args__ = (UniqueConstraint("study_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # the claimed slot, 0-based
    label: Mapped[str] = mapped_column(String(200), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    optuna_trial: Mapped[int | None] = mapped_column(Integer)  # Optuna's trial number (search studies)
    status: Mapped[str] = mapped_column(String(16), default="running")
    value: Mapped[float | None] = mapped_column(Float)  # the objective (score); NULL: none
    note: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(255))  # host:pid of the process that ran it
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # stamped every few seconds by the worker running the trial; a silent one is interrupted (migration 0003)
    heartbeat_at: Mapped[datetime | None]
