"""a drain of the deployment before an upgrade of its engine

Revision ID: 0018
Revises: 0017
Create Date: 2027-03-22 09:00:00

``quarry drain`` records that the deployment is drained (quarry/engine/upgrades.py): API
processes refuse new calls while the calls in flight finish; the next start clears it.
"""

import sqlalchemy as sa
from alembic import op

from quarry.storage.base import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drains",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drains")
