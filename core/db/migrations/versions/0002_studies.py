"""Studies: a template recipe, what varies, an objective and a budget, with trials linked to runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Frozen like 0001. Optuna's own tables never live here: the study runner gives
Optuna a database or schema of its own (``core.study.storage``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("max_trials", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_studies"),
    )
    op.create_index("ix_studies_created_at", "studies", ["created_at"])
    op.create_index("ix_studies_status", "studies", ["status"])

    op.create_table(
        "study_trials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("study_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("optuna_trial", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"], name="fk_study_trials_study_id_studies",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_study_trials_run_id_runs", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_study_trials"),
        sa.UniqueConstraint("study_id", "number", name="uq_study_trials_study_id"),
    )
    op.create_index("ix_study_trials_study_id", "study_trials", ["study_id"])
    op.create_index("ix_study_trials_run_id", "study_trials", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_study_trials_run_id", table_name="study_trials")
    op.drop_index("ix_study_trials_study_id", table_name="study_trials")
    op.drop_table("study_trials")
    op.drop_index("ix_studies_status", table_name="studies")
    op.drop_index("ix_studies_created_at", table_name="studies")
    op.drop_table("studies")
