"""review gates: workflow nodes that wait for a person, the function calls held by them, joins' releasers

Revision ID: 0014
Revises: 0013
Create Date: 2027-02-20 09:00:00

``workflow_nodes.review`` keeps a node's review setting; ``review_gates`` one row per function
call held for review (quarry/calls/reviews.py); ``function_calls.released_by`` the workflow that
released a collecting join (several workflows may drive one call once a gate lets it go on).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from quarry.storage.base import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("workflow_nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review", JSON, nullable=True))
    with op.batch_alter_table("function_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("released_by", sa.String(length=128), nullable=True))
    op.create_table(
        "review_gates",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("function_call_id", sa.String(length=64), nullable=False),
        sa.Column("held", JSON, nullable=False),
        sa.Column("on_deadline", sa.String(length=16), nullable=False),
        sa.Column("deadline_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["environment_id"], ["environments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["function_call_id"], ["function_calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_gates_call_id", "review_gates", ["call_id"])
    op.create_index("ix_review_gates_function_call", "review_gates", ["function_call_id"], unique=True)
    op.create_index("ix_review_gates_due", "review_gates", ["closed_at", "decided_at", "deadline_at"])


def downgrade() -> None:
    op.drop_index("ix_review_gates_due", table_name="review_gates")
    op.drop_index("ix_review_gates_function_call", table_name="review_gates")
    op.drop_index("ix_review_gates_call_id", table_name="review_gates")
    op.drop_table("review_gates")
    with op.batch_alter_table("function_calls", schema=None) as batch_op:
        batch_op.drop_column("released_by")
    with op.batch_alter_table("workflow_nodes", schema=None) as batch_op:
        batch_op.drop_column("review")
