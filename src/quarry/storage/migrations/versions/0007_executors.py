"""executors: heartbeats of the processes of a deployment

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:00:00
"""

import sqlalchemy as sa
from alembic import op

import quarry.storage.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "executors",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executors")),
    )
    with op.batch_alter_table("executors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_executors_heartbeat_at"), ["heartbeat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("executors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_executors_heartbeat_at"))
    op.drop_table("executors")
