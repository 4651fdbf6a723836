"""reference search in creation order on PostgreSQL: a GiST index scanned nearest-first

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-21 09:00:00

A GiST index on (environment, creation instant, trigrams of the lower-cased reference) lets a
page of a substring search be scanned from its cursor in creation order (``ORDER BY created_at
<-> cursor``), skipping the parts of the index whose trigram signatures cannot hold the
substring (see quarry/calls/search.py). ``btree_gist`` gives the first two columns GiST support;
256-byte signatures keep the upper levels of the index selective (the 12-byte default fills up,
and a search with no match then reads every leaf). PostgreSQL 13 or newer (``siglen``).
Building it reads the whole calls table (about 25 s per million calls). SQLite is unchanged.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "CREATE INDEX ix_calls_reference_in_order ON calls "
        "USING gist (environment_id, created_at, lower(call_reference_id) gist_trgm_ops(siglen=256))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_calls_reference_in_order")
