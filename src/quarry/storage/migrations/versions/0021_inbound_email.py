"""inbound email: the message a call was started by, and addresses found by their mail

Revision ID: 0021
Revises: 0020
Create Date: 2027-04-20 09:00:00

``calls.inbound_email`` holds ``{"from", "to", "subject", "deliveredTo"?}`` of the email that
started a call over SMTP (its events carry it as ``inboundEmail``); the SMTP listener finds the
function or workflow a mail is for by ``email_address``, now indexed.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.add_column("calls", sa.Column("inbound_email", JSON, nullable=True))
    op.create_index("ix_functions_email_address", "functions", ["email_address"])
    op.create_index("ix_workflows_email_address", "workflows", ["email_address"])


def downgrade() -> None:
    op.drop_index("ix_workflows_email_address", table_name="workflows")
    op.drop_index("ix_functions_email_address", table_name="functions")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("inbound_email")
