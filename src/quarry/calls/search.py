"""Case-insensitive substring search over ``callReferenceID`` on a trigram index.

PostgreSQL: a ``pg_trgm`` GIN index on ``lower(call_reference_id)`` serves ``LIKE '%…%'``.
SQLite: an FTS5 table with the ``trigram`` tokenizer holds each call's reference and serves
``LIKE`` on it; it is filled in the transaction that creates the call.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.calls.models import Call

SQLITE_TABLE = "call_reference_search"
POSTGRES_INDEX = "ix_calls_reference_trgm"


def is_search_object(name: str | None) -> bool:
    """Whether a schema object belongs to the search index (made by migrations, not by the models)."""
    return bool(name) and (name == POSTGRES_INDEX or str(name).startswith(SQLITE_TABLE))


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def reference_contains(session: Session, text: str) -> sa.ColumnElement[bool]:
    """Condition on ``Call``: its reference contains ``text``, ignoring case."""
    pattern = _like_pattern(text)
    if session.get_bind().dialect.name == "sqlite" and len(text) >= 3:
        matching = sa.text(f"SELECT call_id FROM {SQLITE_TABLE} WHERE reference LIKE :pattern ESCAPE '\\'").bindparams(
            pattern=pattern
        )
        return Call.id.in_(matching.columns(sa.column("call_id")))
    return sa.func.lower(Call.call_reference_id).like(pattern, escape="\\")


def index_references(session: Session, calls: list[Call]) -> None:
    """Make new calls findable by substring (SQLite only; PostgreSQL indexes the column itself)."""
    rows = [{"reference": c.call_reference_id.lower(), "call_id": c.id} for c in calls if c.call_reference_id]
    if rows and session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text(f"INSERT INTO {SQLITE_TABLE} (reference, call_id) VALUES (:reference, :call_id)"), rows)
