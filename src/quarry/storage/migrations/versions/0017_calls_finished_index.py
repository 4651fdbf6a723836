"""calls by the time they finished: what retention removes first

Revision ID: 0017
Revises: 0016
Create Date: 2027-03-15 09:00:00

``QUARRY_RETENTION`` removes finished calls older than it, the oldest first, a batch at a time
(quarry/calls/retention.py): an index on ``finished_at`` makes each batch a range read.
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_finished", "calls", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_finished", table_name="calls")
