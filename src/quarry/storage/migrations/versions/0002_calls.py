"""calls, function calls, events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 18:39:01.336108
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import quarry.storage.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_secrets")),
    )
    op.create_table(
        "call_counts",
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_call_counts_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("environment_id", "dimension", "value", name=op.f("pk_call_counts")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("call_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("call_reference_id", sa.String(length=256), nullable=True),
        sa.Column("workflow_id", sa.String(length=64), nullable=True),
        sa.Column("workflow_name", sa.String(length=128), nullable=True),
        sa.Column("workflow_version_num", sa.Integer(), nullable=True),
        sa.Column("function_id", sa.String(length=64), nullable=True),
        sa.Column("function_name", sa.String(length=128), nullable=True),
        sa.Column("function_type", sa.String(length=32), nullable=True),
        sa.Column("function_version_num", sa.Integer(), nullable=True),
        sa.Column(
            "input", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "plan", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_calls_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_env_call_reference_id_created",
            ["environment_id", "call_reference_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_calls_env_call_type_created", ["environment_id", "call_type", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_calls_env_created", ["environment_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_calls_env_function_id_created", ["environment_id", "function_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_calls_env_function_name_created", ["environment_id", "function_name", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_calls_env_status_created", ["environment_id", "status", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_calls_env_workflow_id_created", ["environment_id", "workflow_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_calls_env_workflow_name_created", ["environment_id", "workflow_name", "created_at", "id"], unique=False
        )

    op.create_table(
        "events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("function_call_id", sa.String(length=64), nullable=True),
        sa.Column("function_call_try_number", sa.Integer(), nullable=True),
        sa.Column("reference_id", sa.String(length=256), nullable=True),
        sa.Column("function_id", sa.String(length=64), nullable=True),
        sa.Column("function_name", sa.String(length=128), nullable=True),
        sa.Column("function_version_num", sa.Integer(), nullable=True),
        sa.Column("workflow_id", sa.String(length=64), nullable=True),
        sa.Column("workflow_name", sa.String(length=128), nullable=True),
        sa.Column("workflow_version_num", sa.Integer(), nullable=True),
        sa.Column(
            "body", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_events_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_call_id", ["call_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_events_env_created", ["environment_id", "created_at", "id"], unique=False)
        batch_op.create_index("ix_events_function_call_id", ["function_call_id"], unique=False)

    op.create_table(
        "function_calls",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("function_id", sa.String(length=64), nullable=False),
        sa.Column("function_name", sa.String(length=128), nullable=False),
        sa.Column("function_type", sa.String(length=32), nullable=False),
        sa.Column("function_version_num", sa.Integer(), nullable=False),
        sa.Column("reference_id", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "activity", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "inputs", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("source_function_call_id", sa.String(length=64), nullable=True),
        sa.Column("source_event_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_function_calls_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_function_calls_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_function_calls")),
    )
    with op.batch_alter_table("function_calls", schema=None) as batch_op:
        batch_op.create_index("ix_function_calls_call_id_created", ["call_id", "created_at", "id"], unique=False)

    # case-insensitive substring search over call references (see quarry/calls/search.py)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_calls_reference_trgm ON calls USING gin (lower(call_reference_id) gin_trgm_ops)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE call_reference_search USING fts5(reference, call_id UNINDEXED, tokenize='trigram')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_calls_reference_trgm")
    else:
        op.execute("DROP TABLE IF EXISTS call_reference_search")
    with op.batch_alter_table("function_calls", schema=None) as batch_op:
        batch_op.drop_index("ix_function_calls_call_id_created")

    op.drop_table("function_calls")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_function_call_id")
        batch_op.drop_index("ix_events_env_created")
        batch_op.drop_index("ix_events_call_id")

    op.drop_table("events")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_env_workflow_name_created")
        batch_op.drop_index("ix_calls_env_workflow_id_created")
        batch_op.drop_index("ix_calls_env_status_created")
        batch_op.drop_index("ix_calls_env_function_name_created")
        batch_op.drop_index("ix_calls_env_function_id_created")
        batch_op.drop_index("ix_calls_env_created")
        batch_op.drop_index("ix_calls_env_call_type_created")
        batch_op.drop_index("ix_calls_env_call_reference_id_created")

    op.drop_table("calls")
    op.drop_table("call_counts")
    op.drop_table("instance_secrets")
