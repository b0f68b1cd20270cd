"""Study trials: a heartbeat, so a trial whose worker died is found and marked interrupted.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

A worker process stamps ``heartbeat_at`` on its running trial every few seconds; any other
worker of the study that finds a running trial silent for longer than the grace period marks
it interrupted (``core.study.runner``). Rows written before this revision have none: their
``started_at`` stands in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("study_trials") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study_trials") as batch:
        batch.drop_column("heartbeat_at")
