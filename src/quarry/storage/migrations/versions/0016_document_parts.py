"""the parts of long documents while their function calls read them

Revision ID: 0016
Revises: 0015
Create Date: 2027-03-08 09:00:00

``document_parts`` holds each part of a long document a function call reads, claimed by the
process that asks it, with its answer until the function call has merged them
(quarry/calls/parts.py).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from quarry.storage.base import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "document_parts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "function_call_id", sa.String(64), sa.ForeignKey("function_calls.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("part", JSON, nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", JSON, nullable=True),
        sa.Column("spent", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_document_parts_function_call_id", "document_parts", ["function_call_id"])


def downgrade() -> None:
    op.drop_index("ix_document_parts_function_call_id", table_name="document_parts")
    op.drop_table("document_parts")
