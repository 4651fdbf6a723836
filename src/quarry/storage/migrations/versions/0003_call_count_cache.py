"""call count cache

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 18:45:22.298130
"""

import sqlalchemy as sa
from alembic import op

import quarry.storage.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_count_cache",
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("filter_key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("counted_until", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_call_count_cache_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("environment_id", "filter_key", name=op.f("pk_call_count_cache")),
    )


def downgrade() -> None:
    op.drop_table("call_count_cache")
