"""a call's trace context: its work and its webhook deliveries continue the trace its submission began

Revision ID: 0019
Revises: 0018
Create Date: 2027-03-29 09:00:00

``calls.trace_parent`` keeps the W3C ``traceparent`` of the span that recorded the call's
submission (quarry/tracing.py), when traces are exported; NULL otherwise. Its events carry it too
(``events.trace_parent``): their webhook deliveries, made later by any worker, join the trace.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("trace_parent", sa.String(64), nullable=True))
    op.add_column("events", sa.Column("trace_parent", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in ("events", "calls"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("trace_parent")
