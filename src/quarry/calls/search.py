"""Case-insensitive substring search over ``callReferenceID`` on a trigram index.

PostgreSQL: a ``pg_trgm`` GIN index on ``lower(call_reference_id)`` serves ``LIKE '%…%'``; a
page looks among a bounded number of calls in creation order first (see ``_walk_or_sort``).

SQLite: an FTS5 ``trigram`` table holds each call's lower-cased reference (case-sensitive
tokens: the lower-casing is Python's, so that "É" matches "é"), filled in the transaction that
creates the call. A substring of three characters or more is a phrase of trigrams, which the
index answers exactly without reading any reference. Two things make a page's cost depend only
on the matches it reads, not on where in the table they sit:

- the row's ``rowid`` is the call's place in creation order (``created_at`` in microseconds,
  shifted left by ``SLOT_BITS``, plus a slot for calls created in the same microsecond), so a
  page is a walk of the index in ``rowid`` order from the cursor, stopped after ``limit`` matches;
- the ``environment`` column holds a one-trigram token of the call's environment
  (``call_reference_search_environments``), so that the index, not a read of each row, keeps
  other environments out of the walk and out of the count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.util import ClauseAdapter

from quarry.calls import counts
from quarry.calls.counts import Counter
from quarry.calls.models import Call

SQLITE_TABLE = "call_reference_search"
SQLITE_TOKENS = "call_reference_search_environments"
POSTGRES_INDEX = "ix_calls_reference_trgm"

SLOT_BITS = 10
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

WALK = 2000
"""A page reads at most this many rows in order before it changes plans. SQLite, with other
filters: index matches checked against them (if fewer than a page pass, those filters are the
selective ones, and their own indexes drive the page). PostgreSQL: calls in creation order from
the cursor (if fewer than a page match, the trigram index finds every match, which are sorted)."""


def is_search_object(name: str | None) -> bool:
    """Whether a schema object belongs to the search index (made by migrations, not by the models)."""
    return bool(name) and (name == POSTGRES_INDEX or str(name).startswith(SQLITE_TABLE))


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def reference_contains(text: str) -> sa.ColumnElement[bool]:
    """Condition on ``Call``: its reference contains ``text``, ignoring case (on PostgreSQL the
    planner serves it from the trigram index or a scan; on SQLite it is a scan)."""
    return sa.func.lower(Call.call_reference_id).like(_like_pattern(text), escape="\\")


def _uses_index(session: Session, text: str) -> bool:
    """Whether SQLite's trigram table answers this substring (it needs one trigram at least)."""
    return session.get_bind().dialect.name == "sqlite" and len(text) >= 3


# --- SQLite: the index, in creation order -------------------------------------------------------


def _key(at: datetime) -> int:
    """The first ``rowid`` of calls created at ``at`` (the next microsecond starts the next key)."""
    return (at - _EPOCH) // _MICROSECOND << SLOT_BITS


def _next_key(at: datetime) -> int:
    return _key(at + _MICROSECOND)


def environment_token(number: int) -> str:
    """The ``number``-th environment's token: three characters (one trigram) from the CJK block,
    which no tokenizer folding touches."""
    digits = [number // 20_000**2, number // 20_000 % 20_000, number % 20_000]
    return "".join(chr(0x4E00 + digit) for digit in digits)


def _token(session: Session, environment_id: str, *, create: bool = False) -> str | None:
    find = sa.text(f"SELECT token FROM {SQLITE_TOKENS} WHERE environment_id = :e")
    token = session.scalar(find, {"e": environment_id})
    if token is None and create:  # writers take turns on SQLite: numbers cannot collide
        token = environment_token(session.scalar(sa.text(f"SELECT count(*) FROM {SQLITE_TOKENS}")) or 0)
        insert = sa.text(f"INSERT INTO {SQLITE_TOKENS} (environment_id, token) VALUES (:e, :t)")
        session.execute(insert, {"e": environment_id, "t": token})
    return token


def index_references(session: Session, calls: Sequence[Call]) -> None:
    """Make new calls findable by substring (SQLite only; PostgreSQL indexes the column itself).
    Each call takes the first free slot of its microsecond."""
    calls = [c for c in calls if c.call_reference_id]
    if not calls or session.get_bind().dialect.name != "sqlite":
        return
    keys = [_key(c.created_at) for c in calls]
    taken = set(
        session.scalars(
            sa.text(f"SELECT rowid FROM {SQLITE_TABLE} WHERE rowid >= :lo AND rowid < :hi"),
            {"lo": min(keys), "hi": max(keys) + (1 << SLOT_BITS)},
        )
    )
    tokens: dict[str, str | None] = {}
    rows = []
    for call, key in zip(calls, keys, strict=True):
        rowid = key
        while rowid in taken:  # a call of another transaction in the same microsecond
            rowid += 1
        taken.add(rowid)
        if call.environment_id not in tokens:
            tokens[call.environment_id] = _token(session, call.environment_id, create=True)
        rows.append({"rowid": rowid, "reference": call.call_reference_id.lower(), "call_id": call.id,
                     "environment": tokens[call.environment_id]})  # fmt: skip
    insert = f"INSERT INTO {SQLITE_TABLE} (rowid, reference, environment, call_id)"
    session.execute(sa.text(f"{insert} VALUES (:rowid, :reference, :environment, :call_id)"), rows)


def _match(token: str, text: str) -> str:
    """The FTS5 query: the substring as a phrase in the reference, in the environment's rows."""
    phrase = '"' + text.lower().replace('"', '""') + '"'
    return f'{{reference}}: {phrase} AND {{environment}}: "{token}"'


_TABLE = sa.table(SQLITE_TABLE, sa.column("rowid"), sa.column("call_id"))


def _matches(token: str, text: str) -> sa.ColumnElement[bool]:
    return sa.literal_column(SQLITE_TABLE).op("MATCH")(_match(token, text))


def _page_candidates(
    session: Session,
    environment_id: str,
    text: str,
    filters: Sequence[sa.ColumnElement[bool]],
    limit: int,
    ascending: bool,
    cursor: tuple[Any, ...] | None,
) -> list[str] | None:
    """IDs of calls among which the page lies: the first ``limit`` matches passing ``filters`` in
    the index's order from the cursor, plus the rest of the last one's microsecond (slots follow
    insertion, not ID). ``None`` when ``filters`` reject too many matches to walk them."""
    token = _token(session, environment_id)
    if token is None:
        return []
    rowid, call_id = _TABLE.c.rowid, _TABLE.c.call_id
    walk = sa.select(rowid, call_id).where(_matches(token, text))
    if cursor is not None:
        at, cursor_id = cursor
        if ascending:
            walk = walk.where(rowid >= _key(at), sa.or_(rowid >= _next_key(at), call_id > cursor_id))
        else:
            walk = walk.where(rowid < _next_key(at), sa.or_(rowid < _key(at), call_id < cursor_id))
    walk = walk.order_by(rowid.asc() if ascending else rowid.desc())
    stop = None
    if filters:  # the walk checks each match against them, up to WALK matches
        stop = session.scalar(walk.with_only_columns(rowid).offset(WALK - 1).limit(1))
        walk = walk.join(Call, Call.id == call_id).where(*filters)
        if stop is not None:
            walk = walk.where(rowid <= stop if ascending else rowid >= stop)
    hits = session.execute(walk.limit(limit)).all()
    if len(hits) < limit and stop is not None:
        return None
    if len(hits) < limit:
        return [hit.call_id for hit in hits]
    last = hits[-1].rowid >> SLOT_BITS << SLOT_BITS
    same_instant = sa.select(call_id).where(_matches(token, text), rowid >= last, rowid < last + (1 << SLOT_BITS))
    return [hit.call_id for hit in hits] + list(session.scalars(same_instant))


def _walk_or_sort(
    session: Session,
    environment_id: str,
    text: str,
    filters: Sequence[sa.ColumnElement[bool]],
    limit: int,
    ascending: bool,
    cursor: tuple[Any, ...] | None,
) -> list[str]:
    """PostgreSQL: IDs of the page's calls. Left to itself, the planner walks the creation order
    whenever it expects matches to be frequent, however far away they sit (or takes every match
    from the trigram index when it expects them to be rare, however many there are). So the page
    is first looked for among the next ``WALK`` calls only (a subquery with a ``LIMIT``: no plan
    can read more); when they hold less than a page, every match after the cursor is taken from
    the trigram index (behind an ``OFFSET 0`` fence, which keeps the planner from walking) and sorted."""
    order = [Call.created_at.asc(), Call.id.asc()] if ascending else [Call.created_at.desc(), Call.id.desc()]
    scope = [Call.environment_id == environment_id]
    if cursor is not None:
        at, row = cursor[0], sa.tuple_(Call.created_at, Call.id)
        scope += (
            [Call.created_at >= at, row > sa.tuple_(*cursor)]
            if ascending
            else [Call.created_at <= at, row < sa.tuple_(*cursor)]
        )
    matching = [*filters, reference_contains(text)]
    window = sa.select(Call.__table__).where(*scope).order_by(*order).limit(WALK).subquery()
    adapt = ClauseAdapter(window).traverse
    walked = sa.select(window.c.id).where(*map(adapt, matching)).order_by(*map(adapt, order)).limit(limit)
    ids = list(session.scalars(walked))
    if len(ids) == limit:
        return ids
    found = sa.select(Call.id, Call.created_at).where(*scope, *matching).offset(0).subquery()
    by_key = [found.c.created_at, found.c.id] if ascending else [found.c.created_at.desc(), found.c.id.desc()]
    return list(session.scalars(sa.select(found.c.id).order_by(*by_key).limit(limit)))


def page_filter(
    session: Session, environment_id: str, text: str, filters: Sequence[sa.ColumnElement[bool]], limit: int
) -> Callable[[bool, tuple[Any, ...] | None], list[sa.ColumnElement[bool]]]:
    """The condition narrowing a page of calls to those containing ``text``, given the page's
    direction and cursor (see ``pagination.keyset_page``)."""

    def narrow(ascending: bool, cursor: tuple[Any, ...] | None) -> list[sa.ColumnElement[bool]]:
        ids: list[str] | None = None
        if _uses_index(session, text):
            ids = _page_candidates(session, environment_id, text, filters, limit, ascending, cursor)
        elif session.get_bind().dialect.name == "postgresql":
            ids = _walk_or_sort(session, environment_id, text, filters, limit, ascending, cursor)
        return [reference_contains(text)] if ids is None else [Call.id.in_(ids)]

    return narrow


def counter(session: Session, environment_id: str, text: str, filters: Sequence[sa.ColumnElement[bool]]) -> Counter:
    """Counts of the calls containing ``text`` and passing ``filters``; on SQLite from the index
    (reading the matched calls only when there are other filters)."""
    if not _uses_index(session, text):
        return counts.calls_matching(session, environment_id, [*filters, reference_contains(text)])
    token = _token(session, environment_id)

    def count(after: datetime | None, until: datetime | None) -> int:
        if token is None:
            return 0
        stmt = sa.select(sa.func.count()).select_from(_TABLE).where(_matches(token, text))
        if filters:
            stmt = stmt.join(Call, Call.id == _TABLE.c.call_id).where(*filters)
        if after is not None:
            stmt = stmt.where(_TABLE.c.rowid >= _next_key(after))
        if until is not None:
            stmt = stmt.where(_TABLE.c.rowid < _next_key(until))
        return session.scalar(stmt) or 0

    return count
