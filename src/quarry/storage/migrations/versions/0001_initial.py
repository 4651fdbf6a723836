"""initial schema: tenancy, functions, workflows

Revision ID: 0001
Revises:
Create Date: 2026-11-28 17:45:17.171954
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import quarry.storage.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("name", name=op.f("uq_accounts_name")),
    )
    op.create_table(
        "object_tags",
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("tag", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("object_id", "tag", name=op.f("pk_object_tags")),
    )
    with op.batch_alter_table("object_tags", schema=None) as batch_op:
        batch_op.create_index("ix_object_tags_tag_object_id", ["tag", "object_id"], unique=False)

    op.create_table(
        "environments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_environments_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_environments_account_id_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_api_keys_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_environment_id"), ["environment_id"], unique=False)

    op.create_table(
        "functions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=512), nullable=True),
        sa.Column("current_version_num", sa.Integer(), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=True),
        sa.Column(
            "created_by", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_functions_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_functions")),
    )
    with op.batch_alter_table("functions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_functions_environment_id_created_at_id", ["environment_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "uq_functions_live_name",
            ["environment_id", "name"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "workflows",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=512), nullable=True),
        sa.Column("current_version_num", sa.Integer(), nullable=False),
        sa.Column("email_address", sa.String(length=320), nullable=False),
        sa.Column(
            "created_by", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_workflows_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
    )
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_workflows_environment_id_created_at_id", ["environment_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "uq_workflows_live_name",
            ["environment_id", "name"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "function_versions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("function_id", sa.String(length=64), nullable=False),
        sa.Column("version_num", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=512), nullable=True),
        sa.Column(
            "tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "config", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "created_by", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["function_id"],
            ["functions.id"],
            name=op.f("fk_function_versions_function_id_functions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_function_versions")),
        sa.UniqueConstraint("function_id", "version_num", name=op.f("uq_function_versions_function_id_version_num")),
    )
    op.create_table(
        "workflow_versions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=64), nullable=False),
        sa.Column("version_num", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=512), nullable=True),
        sa.Column(
            "tags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("main_function_id", sa.String(length=64), nullable=False),
        sa.Column(
            "relationships",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_by", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", quarry.storage.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["main_function_id"], ["functions.id"], name=op.f("fk_workflow_versions_main_function_id_functions")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_versions_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_versions")),
        sa.UniqueConstraint("workflow_id", "version_num", name=op.f("uq_workflow_versions_workflow_id_version_num")),
    )
    op.create_table(
        "workflow_nodes",
        sa.Column("workflow_version_id", sa.String(length=64), nullable=False),
        sa.Column("function_id", sa.String(length=64), nullable=False),
        sa.Column("function_version_num", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["function_id"], ["functions.id"], name=op.f("fk_workflow_nodes_function_id_functions")
        ),
        sa.ForeignKeyConstraint(
            ["workflow_version_id"],
            ["workflow_versions.id"],
            name=op.f("fk_workflow_nodes_workflow_version_id_workflow_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_version_id", "function_id", name=op.f("pk_workflow_nodes")),
    )
    with op.batch_alter_table("workflow_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workflow_nodes_function_id"), ["function_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("workflow_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_nodes_function_id"))

    op.drop_table("workflow_nodes")
    op.drop_table("workflow_versions")
    op.drop_table("function_versions")
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_workflows_live_name",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_workflows_environment_id_created_at_id")

    op.drop_table("workflows")
    with op.batch_alter_table("functions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_functions_live_name",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_functions_environment_id_created_at_id")

    op.drop_table("functions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_environment_id"))

    op.drop_table("api_keys")
    op.drop_table("environments")
    with op.batch_alter_table("object_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_object_tags_tag_object_id")

    op.drop_table("object_tags")
    op.drop_table("accounts")
