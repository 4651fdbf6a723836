"""call counts in shards: concurrent status changes no longer queue on one row

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shard", sa.SmallInteger(), nullable=False, server_default="0"))
        batch_op.drop_constraint("pk_call_counts", type_="primary")
        batch_op.create_primary_key("pk_call_counts", ["environment_id", "dimension", "value", "shard"])


def downgrade() -> None:
    # fold every key's shards into one row
    op.execute(
        "INSERT INTO call_counts (environment_id, dimension, value, shard, count) "
        "SELECT environment_id, dimension, value, -1, sum(count) FROM call_counts "
        "GROUP BY environment_id, dimension, value"
    )
    op.execute("DELETE FROM call_counts WHERE shard <> -1")
    with op.batch_alter_table("call_counts", schema=None) as batch_op:
        batch_op.drop_constraint("pk_call_counts", type_="primary")
        batch_op.create_primary_key("pk_call_counts", ["environment_id", "dimension", "value"])
        batch_op.drop_column("shard")
