"""what a transform was created as, and every event that fed a join

Revision ID: 0022
Revises: 0020
Create Date: 2027-04-12 09:00:00

``functions.type_name`` keeps which of bem's two names a ``transform`` function was created under
(``transform`` or ``extract``), so each reads back as it was made; NULL for other types and for
functions made before this revision (they read as before: ``extract`` in v3).
``join_sources`` lists every event that fed a collecting join (one row per branch that reached
it); ``function_calls.source_event_id`` keeps only the first.
"""

import sqlalchemy as sa
from alembic import op

import quarry.storage.base

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("functions", sa.Column("type_name", sa.String(32), nullable=True))
    op.create_table(
        "join_sources",
        sa.Column("function_call_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("source_function_call_id", sa.String(64), nullable=False),
        sa.Column("fed_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["function_call_id"], ["function_calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("function_call_id", "event_id"),
    )
    op.create_index("ix_join_sources_event_id", "join_sources", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_join_sources_event_id", table_name="join_sources")
    op.drop_table("join_sources")
    with op.batch_alter_table("functions", schema=None) as batch_op:
        batch_op.drop_column("type_name")
