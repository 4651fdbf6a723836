"""when each call last changed: calls.updated_at, indexed by environment

Revision ID: 0013
Revises: 0012
Create Date: 2027-02-02 09:00:00

Streams of call changes and long polls (quarry/calls/watch.py) read the calls changed since an
instant. The column is set on creation and on every status change from now on; older calls keep
NULL (no backfill: adding a nullable column rewrites no row, and a call that changed before the
column existed is no change a follower can still be waiting for).
"""

import sqlalchemy as sa
from alembic import op

from quarry.storage.base import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_calls_env_updated", "calls", ["environment_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_env_updated", table_name="calls")
    op.drop_column("calls", "updated_at")
