"""function calls' model usage: requests, tokens, models, estimated cost

Revision ID: 0015
Revises: 0014
Create Date: 2027-03-01 09:00:00

``function_calls.usage`` keeps what a function call's model requests used (quarry/providers/usage.py).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("function_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("usage", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("function_calls", schema=None) as batch_op:
        batch_op.drop_column("usage")
