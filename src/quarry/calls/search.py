"""Case-insensitive substring search over ``callReferenceID`` on trigram indexes.

A page of a search is the first matches from its cursor in creation order; both databases have
an index that yields matches in that order, so a page reads about as many entries as it returns,
wherever in the table its matches sit (``_page_candidates``). Counts of a substring are
cached, and only newer calls counted on later requests, unless ``statuses``, ``callIDs`` or
``referenceIDs`` are given too (see ``service._total``).

PostgreSQL: two ``pg_trgm`` indexes on ``lower(call_reference_id)``: a GIN index, which the
planner uses to count matches, and a GiST index on (environment, creation instant, trigrams)
scanned nearest-first from the cursor's instant for pages (``_GistInOrder``).

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

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.calls import counts
from quarry.calls.counts import Counter
from quarry.calls.models import Call
from quarry.lru import Lru

SQLITE_TABLE = "call_reference_search"
SQLITE_TOKENS = "call_reference_search_environments"
POSTGRES_INDEXES = ("ix_calls_reference_trgm", "ix_calls_reference_in_order")

SLOT_BITS = 10
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

WALK = 2000
"""With other filters, a page checks at most this many matches in order against them: if fewer
than a page pass, those filters are the selective ones, and their own indexes drive the page."""


def is_search_object(name: str | None) -> bool:
    """Whether a schema object belongs to the search index (made by migrations, not by the models)."""
    return bool(name) and (name in POSTGRES_INDEXES or str(name).startswith(SQLITE_TABLE))


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def reference_contains(text: str) -> sa.ColumnElement[bool]:
    """Condition on ``Call``: its reference contains ``text``, ignoring case (on PostgreSQL the
    planner serves it from the trigram index or a scan; on SQLite it is a scan)."""
    return sa.func.lower(Call.call_reference_id).like(_like_pattern(text), escape="\\")


def _indexed(text: str) -> bool:
    """Whether the trigram indexes answer this substring (they need one trigram at least)."""
    return len(text) >= 3


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


_FIND_TOKEN = sa.text(f"SELECT token FROM {SQLITE_TOKENS} WHERE environment_id = :e")
_TOKENS: Lru[str, str] = Lru(10_000)
"""Tokens found, by environment: an environment's token never changes once given (each search
read it before its page and its count)."""


def _token(session: Session, environment_id: str, *, create: bool = False) -> str | None:
    token = _TOKENS.get(environment_id)
    if token is not None:
        return token
    token = session.scalar(_FIND_TOKEN, {"e": environment_id})
    if token is None and create:  # writers take turns on SQLite: numbers cannot collide
        token = environment_token(session.scalar(sa.text(f"SELECT count(*) FROM {SQLITE_TOKENS}")) or 0)
        insert = sa.text(f"INSERT INTO {SQLITE_TOKENS} (environment_id, token) VALUES (:e, :t)")
        session.execute(insert, {"e": environment_id, "t": token})
        return token  # not kept yet: the transaction that gives it may roll back (a later read keeps it)
    if token is not None:
        _TOKENS.put(environment_id, token)
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


def forget_references(session: Session, calls: Sequence[Call]) -> None:
    """Take removed calls out of the index (SQLite only): each is in its microsecond's slots."""
    calls = [c for c in calls if c.call_reference_id]
    if not calls or session.get_bind().dialect.name != "sqlite":
        return
    delete = f"DELETE FROM {SQLITE_TABLE} WHERE rowid >= :lo AND rowid < :hi AND call_id = :call_id"
    rows = [{"lo": _key(c.created_at), "hi": _key(c.created_at) + (1 << SLOT_BITS), "call_id": c.id} for c in calls]
    session.execute(sa.text(delete), rows)


def _match(token: str, text: str) -> str:
    """The FTS5 query: the substring as a phrase in the reference, in the environment's rows."""
    phrase = '"' + text.lower().replace('"', '""') + '"'
    return f'{{reference}}: {phrase} AND {{environment}}: "{token}"'


_TABLE = sa.table(SQLITE_TABLE, sa.column("rowid"), sa.column("call_id"))


def _matches(token: str, text: str) -> sa.ColumnElement[bool]:
    return sa.literal_column(SQLITE_TABLE).op("MATCH")(_match(token, text))


@dataclass(frozen=True)
class PageRequest:
    """What a page of a substring search needs: whose calls, the substring, the other filters,
    its size, its direction in creation order and its cursor's key (``created_at``, ``id``)."""

    environment_id: str
    text: str
    filters: Sequence[sa.ColumnElement[bool]]
    limit: int
    ascending: bool
    cursor: tuple[Any, ...] | None


class _InOrder(Protocol):
    """One database's index of references, bound to one page: it yields the matches in creation
    order from the page's cursor.

    - ``walk``: the matches as rows (their place in the index's order first, then ``call_id``),
      nearest the cursor first; ``None`` when nothing can match;
    - ``passing``: the first page of a walk's matches that pass the page's other filters; ``None``
      when fewer than a page of the first ``WALK`` matches do;
    - ``planner_settings``: holds the page's statements;
    - ``instant``: the IDs of every match created in the same instant as a position (creation
      order breaks ties by ID, which neither index follows)."""

    def walk(self) -> sa.Select[Any] | None: ...

    def passing(self, walk: sa.Select[Any]) -> list[sa.Row[Any]] | None: ...

    def planner_settings(self) -> AbstractContextManager[None]: ...

    def instant(self, position: Any) -> sa.Select[Any]: ...


class _Fts5InOrder:
    """SQLite: the FTS5 table walked in ``rowid`` order (a call's creation instant and slot)."""

    def __init__(self, session: Session, request: PageRequest) -> None:
        self.session, self.request = session, request
        self.token = _token(session, request.environment_id)

    def walk(self) -> sa.Select[Any] | None:
        if self.token is None:
            return None
        rowid, call_id, request = _TABLE.c.rowid, _TABLE.c.call_id, self.request
        walk = sa.select(rowid, call_id).where(_matches(self.token, request.text))
        if request.cursor is not None:
            at, cursor_id = request.cursor
            if request.ascending:
                walk = walk.where(rowid >= _key(at), sa.or_(rowid >= _next_key(at), call_id > cursor_id))
            else:
                walk = walk.where(rowid < _next_key(at), sa.or_(rowid < _key(at), call_id < cursor_id))
        return walk.order_by(rowid.asc() if request.ascending else rowid.desc())

    def passing(self, walk: sa.Select[Any]) -> list[sa.Row[Any]] | None:
        """The walk's ``WALK``-th match bounds a second walk that joins the calls to filter them."""
        rowid = _TABLE.c.rowid
        stop = self.session.scalar(walk.with_only_columns(rowid).offset(WALK - 1).limit(1))
        walk = walk.join(Call, Call.id == _TABLE.c.call_id).where(*self.request.filters)
        if stop is not None:
            walk = walk.where(rowid <= stop if self.request.ascending else rowid >= stop)
        hits = list(self.session.execute(walk.limit(self.request.limit)))
        return None if len(hits) < self.request.limit and stop is not None else hits

    def planner_settings(self) -> AbstractContextManager[None]:
        return nullcontext()

    def instant(self, position: Any) -> sa.Select[Any]:
        assert self.token is not None  # a walk found this position
        first, rowid = position >> SLOT_BITS << SLOT_BITS, _TABLE.c.rowid
        return sa.select(_TABLE.c.call_id).where(
            _matches(self.token, self.request.text), rowid >= first, rowid < first + (1 << SLOT_BITS)
        )


class _GistInOrder:
    """PostgreSQL: the GiST index on (environment, creation instant, trigrams of the reference)
    scanned nearest-first by distance from the cursor's instant (``<->``), which on one side of
    the cursor is creation order. The scan skips the parts of the index whose trigram
    signatures cannot hold the substring, so it reads about as much as the page, wherever its
    matches sit (a B-tree walk would read every call up to them, a GIN index every match).

    The index orders by distances in seconds as ``float8``: measured from an instant within the
    environment's calls (the cursor's, else its first or last call's), they keep microseconds
    apart; from a far-off constant they would not."""

    def __init__(self, session: Session, request: PageRequest) -> None:
        self.session, self.request = session, request
        self.matching = [Call.environment_id == request.environment_id, reference_contains(request.text)]

    def walk(self) -> sa.Select[Any] | None:
        request, walk = self.request, sa.select(Call.created_at, Call.id.label("call_id")).where(*self.matching)
        if request.cursor is not None:
            origin, row = request.cursor[0], sa.tuple_(Call.created_at, Call.id)
            if request.ascending:
                walk = walk.where(Call.created_at >= origin, row > sa.tuple_(*request.cursor))
            else:
                walk = walk.where(Call.created_at <= origin, row < sa.tuple_(*request.cursor))
        else:
            end = sa.func.min if request.ascending else sa.func.max
            origin = self.session.scalar(
                sa.select(end(Call.created_at)).where(Call.environment_id == request.environment_id)
            )
            if origin is None:
                return None
            # calls created since that statement would otherwise sort as if on its other side
            walk = walk.where(Call.created_at >= origin if request.ascending else Call.created_at <= origin)
        distance = Call.created_at.op("<->", return_type=sa.Interval())(origin).label("distance")
        return walk.add_columns(distance).order_by(distance)

    def passing(self, walk: sa.Select[Any]) -> list[sa.Row[Any]] | None:
        """The walk, cut at ``WALK`` matches, is a subquery the page reads in order (the planner
        keeps its order) until enough pass; it is counted only when they do not."""
        window = walk.add_columns(sa.and_(*self.request.filters).label("passes")).limit(WALK).subquery()
        page = sa.select(window.c.created_at, window.c.call_id).where(window.c.passes)
        hits = list(self.session.execute(page.order_by(window.c.distance).limit(self.request.limit)))
        if len(hits) < self.request.limit:
            if self.session.scalar(sa.select(sa.func.count()).select_from(window)) == WALK:
                return None
        return hits

    @contextmanager
    def planner_settings(self) -> Iterator[None]:
        """The planner guesses how many references a pattern matches from a default, and when
        the page's ``LIMIT`` exceeds its guess, it prefers to read every match through a bitmap
        and sort them — the cost this index is here to avoid. So bitmap scans are off for a
        page's statements, with ``SET LOCAL``: in the caller's transaction if it has one, else
        (reads run in autocommit mode) in a transaction of their own. Never a session-wide
        ``SET``: behind PgBouncer in transaction mode it could stay on another server connection."""
        connection = self.session.connection()
        if not connection.connection.dbapi_connection.autocommit:  # type: ignore[union-attr]
            connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            yield
            return
        connection.exec_driver_sql("BEGIN")
        try:
            connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
            yield
        except BaseException:
            if not connection.invalidated:
                connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")

    def instant(self, position: Any) -> sa.Select[Any]:
        return sa.select(Call.id).where(*self.matching, Call.created_at == position)


def _page_candidates(session: Session, request: PageRequest) -> list[str] | None:
    """IDs of calls among which the page lies: the first ``limit`` matches passing the filters
    in the index's order from the cursor, plus the rest of the last one's instant. ``None`` when
    fewer than a page of the first ``WALK`` matches pass the filters: those are the selective
    ones, and their own indexes should drive the page."""
    index: _InOrder = (_Fts5InOrder if session.get_bind().dialect.name == "sqlite" else _GistInOrder)(session, request)
    walk = index.walk()
    if walk is None:
        return []
    with index.planner_settings():
        if request.filters:
            hits = index.passing(walk)
            if hits is None:
                return None
        else:
            hits = list(session.execute(walk.limit(request.limit)))
        ids = [hit.call_id for hit in hits]
        if len(hits) < request.limit:
            return ids
        return ids + list(session.scalars(index.instant(hits[-1][0])))


def page_filter(
    session: Session, environment_id: str, text: str, filters: Sequence[sa.ColumnElement[bool]], limit: int
) -> Callable[[bool, tuple[Any, ...] | None], list[sa.ColumnElement[bool]]]:
    """The condition narrowing a page of calls to those containing ``text``, given the page's
    direction and cursor (see ``pagination.keyset_page``). Substrings shorter than a trigram
    are left to the database's plan."""

    def narrow(ascending: bool, cursor: tuple[Any, ...] | None) -> list[sa.ColumnElement[bool]]:
        ids = None
        if _indexed(text):
            request = PageRequest(environment_id, text, filters, limit, ascending, cursor)
            ids = _page_candidates(session, request)
        return [reference_contains(text)] if ids is None else [Call.id.in_(ids)]

    return narrow


def counter(session: Session, environment_id: str, text: str, filters: Sequence[sa.ColumnElement[bool]]) -> Counter:
    """Counts of the calls containing ``text`` and passing ``filters``; on SQLite from the index
    (reading the matched calls only when there are other filters)."""
    if session.get_bind().dialect.name != "sqlite" or not _indexed(text):
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
