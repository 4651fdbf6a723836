"""transformations and corrections: transformation ID, labelling and webhook publication on events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import quarry.storage.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transformation_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("labelled_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("published_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("last_publish_error_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_events_env_transformation", ["environment_id", "transformation_id"], unique=False)
        batch_op.create_index(
            "ix_events_env_reference", ["environment_id", "reference_id", "created_at", "id"], unique=False
        )

    # transform and join events recorded before this revision carry their ID in the body only
    if op.get_bind().dialect.name == "postgresql":
        extract = "body ->> 'transformationID'"
    else:
        extract = "json_extract(body, '$.transformationID')"
    op.execute(
        f"UPDATE events SET transformation_id = {extract} "  # noqa: S608 - constant SQL
        "WHERE event_type IN ('transform', 'join') AND transformation_id IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_env_reference")
        batch_op.drop_index("ix_events_env_transformation")
        batch_op.drop_column("last_publish_error_at")
        batch_op.drop_column("published_at")
        batch_op.drop_column("labelled_at")
        batch_op.drop_column("transformation_id")
