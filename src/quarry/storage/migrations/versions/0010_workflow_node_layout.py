"""workflow node layout: v3's call-site names and opaque metadata of workflow nodes

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column(
                "node_metadata",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("workflow_nodes", schema=None) as batch_op:
        batch_op.drop_column("node_metadata")
        batch_op.drop_column("name")
