"""Case-insensitive substring search over ``callReferenceID`` on a trigram index.

PostgreSQL: a ``pg_trgm`` GIN index on ``lower(call_reference_id)`` serves ``LIKE '%…%'``.
SQLite: an FTS5 table with the ``trigram`` tokenizer holds each call's (lower-cased) reference
and serves ``LIKE`` on it; it is filled in the transaction that creates the call.
Counting the matches of a substring that matches most calls is a scan either way; see
``counts.cached_count`` for how ``totalCount`` avoids repeating it.
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


def _glob_pattern(text: str) -> str:
    """``*<text>*`` for GLOB over the lower-cased references, with GLOB's own wildcards literal."""
    return "*" + "".join(f"[{c}]" if c in "*?[" else c for c in text.lower()) + "*"


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


CANDIDATE_LIMIT = 5000
"""Up to this many trigram matches, the list is driven by the index; beyond, matches are dense
enough that scanning in creation order finds a page's worth quickly."""


def reference_contains(session: Session, text: str) -> sa.ColumnElement[bool]:
    """Condition on ``Call``: its reference contains ``text``, ignoring case."""
    pattern = _like_pattern(text)
    scan = sa.func.lower(Call.call_reference_id).like(pattern, escape="\\")
    if session.get_bind().dialect.name != "sqlite" or len(text) < 3:
        return scan  # PostgreSQL's planner picks the trigram index or the scan itself
    candidates = list(
        session.scalars(  # GLOB, not LIKE: FTS5 cannot use its index for LIKE … ESCAPE
            sa.text(f"SELECT call_id FROM {SQLITE_TABLE} WHERE reference GLOB :pattern LIMIT :limit"),
            {"pattern": _glob_pattern(text), "limit": CANDIDATE_LIMIT + 1},
        )
    )
    return Call.id.in_(candidates) if len(candidates) <= CANDIDATE_LIMIT else scan


def index_references(session: Session, calls: list[Call]) -> None:
    """Make new calls findable by substring (SQLite only; PostgreSQL indexes the column itself)."""
    rows = [{"reference": c.call_reference_id.lower(), "call_id": c.id} for c in calls if c.call_reference_id]
    if rows and session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text(f"INSERT INTO {SQLITE_TABLE} (reference, call_id) VALUES (:reference, :call_id)"), rows)
