"""reference search in creation order: SQLite's trigram table keyed by creation time, with environments

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-14 09:00:00

The FTS5 table's rowid becomes the call's place in creation order and an ``environment`` column
holds its environment's token (see quarry/calls/search.py), so that a page of a substring search
walks the index from its cursor. PostgreSQL's trigram index is unchanged.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SLOT_BITS = 10
"""Bits of a rowid below the microsecond (as quarry/calls/search.py had them when this was written)."""


def environment_token(number: int) -> str:
    """The ``number``-th environment's token, as quarry/calls/search.py makes it: three characters
    (one trigram) from the CJK block, which no tokenizer folding touches."""
    digits = [number // 20_000**2, number // 20_000 % 20_000, number % 20_000]
    return "".join(chr(0x4E00 + digit) for digit in digits)


# created_at is stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds, then microseconds
_MICROSECONDS = (
    "(CAST(strftime('%s', substr(c.created_at, 1, 19)) AS INTEGER) * 1000000"
    " + CAST(substr(c.created_at, 21, 6) AS INTEGER))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE call_reference_search")
    op.execute(
        "CREATE TABLE call_reference_search_environments ("
        "environment_id VARCHAR(64) NOT NULL PRIMARY KEY, token VARCHAR(8) NOT NULL UNIQUE)"
    )
    environments = op.get_bind().exec_driver_sql("SELECT DISTINCT environment_id FROM calls ORDER BY 1").scalars()
    for number, environment_id in enumerate(list(environments)):
        op.get_bind().exec_driver_sql(
            "INSERT INTO call_reference_search_environments (environment_id, token) VALUES (?, ?)",
            (environment_id, environment_token(number)),
        )
    op.execute(
        "CREATE VIRTUAL TABLE call_reference_search USING "
        "fts5(reference, environment, call_id UNINDEXED, tokenize='trigram case_sensitive 1')"
    )
    op.execute(
        "INSERT INTO call_reference_search (rowid, reference, environment, call_id) "
        f"SELECT ({_MICROSECONDS} << {SLOT_BITS}) + ROW_NUMBER() OVER (PARTITION BY c.created_at ORDER BY c.id) - 1,"
        " lower(c.call_reference_id), e.token, c.id "
        "FROM calls AS c JOIN call_reference_search_environments AS e ON e.environment_id = c.environment_id "
        "WHERE c.call_reference_id IS NOT NULL"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE call_reference_search_0010 USING fts5(reference, call_id UNINDEXED, tokenize='trigram')"
    )
    op.execute(
        "INSERT INTO call_reference_search_0010 (reference, call_id) SELECT reference, call_id FROM call_reference_search"
    )
    op.execute("DROP TABLE call_reference_search")
    op.execute("ALTER TABLE call_reference_search_0010 RENAME TO call_reference_search")
    op.execute("DROP TABLE call_reference_search_environments")
