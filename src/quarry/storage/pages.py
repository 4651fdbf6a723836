"""Cursor pagination shared by every list endpoint (Stripe semantics, keyset on an index).

Items are ordered by a key of columns (``created_at, id`` for most objects). ``startingAfter``
returns the items after the cursor in the chosen order; ``endingBefore`` the items immediately
before it, still in the chosen order. The cursor is resolved to its key once, then the page is
one indexed range scan, so its cost does not grow with its depth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.orm import Session

from quarry.errors import bad_request
from quarry.wire import VersionNum, WireModel


class PageQuery(WireModel):
    limit: int = Field(50, ge=1, le=100, description="Number of items per page, 1 to 100.")
    sort_order: Literal["asc", "desc"] = Field("asc", description="Order of creation.")
    starting_after: str | None = Field(None, description="Return the items after this one.")
    ending_before: str | None = Field(None, description="Return the items immediately before this one.")


Narrowing = Callable[[bool, tuple[Any, ...] | None], Sequence[sa.ColumnElement[bool]]]
"""Conditions for one page given its direction in the key (ascending or not) and its cursor's key."""


def keyset_page(
    session: Session,
    stmt: sa.Select[Any],
    key: Sequence[sa.ColumnElement[Any]],
    page: PageQuery,
    cursor_key: Callable[[str], tuple[Any, ...] | None],
    narrow: Narrowing | None = None,
) -> list[Any]:
    """Return one page of ``stmt``'s rows (its one entity or value per row, if it selects one).

    ``cursor_key`` maps a cursor value to its key, or ``None`` when no such object exists in
    the caller's scope (a 400: a client cannot page from an object it cannot see). ``narrow``
    adds conditions that depend on where the page starts.
    """
    if page.starting_after is not None and page.ending_before is not None:
        raise bad_request("startingAfter and endingBefore are mutually exclusive", field="startingAfter")
    cursor_field, cursor = (
        ("startingAfter", page.starting_after)
        if page.starting_after is not None
        else ("endingBefore", page.ending_before)
    )

    backwards = page.ending_before is not None
    ascending = (page.sort_order == "asc") != backwards
    values = None
    if cursor is not None:
        values = cursor_key(cursor)
        if values is None:
            raise bad_request(f"{cursor_field}: no item {cursor!r} to page from", field=cursor_field)
        row_key = sa.tuple_(*key)
        stmt = stmt.where(row_key > sa.tuple_(*values) if ascending else row_key < sa.tuple_(*values))
    if narrow is not None:
        stmt = stmt.where(*narrow(ascending, values))
    stmt = stmt.order_by(*(column.asc() if ascending else column.desc() for column in key)).limit(page.limit)
    if len(stmt.column_descriptions) == 1:
        items = list(session.scalars(stmt))
    else:  # plain rows: straight from the connection, without the ORM's cost per row
        items = list(session.connection().execute(stmt))
    if backwards:
        items.reverse()
    return items


def count_rows(session: Session, stmt: sa.Select[Any]) -> int:
    """How many rows ``stmt`` returns (``totalCount``: cursors and limit do not apply)."""
    return session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0


def total_count(session: Session, stmt: sa.Select[Any], page: PageQuery, items: Sequence[Any]) -> int:
    """``totalCount`` of a list whose first page is ``items``: a first page shorter than the
    limit holds every row already (most lists of functions or workflows), else ``count_rows``."""
    if page.starting_after is None and page.ending_before is None and len(items) < page.limit:
        return len(items)
    return count_rows(session, stmt)


def creation_page(
    session: Session,
    model: Any,
    scope: Sequence[sa.ColumnElement[bool]],
    filters: Sequence[sa.ColumnElement[bool]],
    page: PageQuery,
    narrow: Narrowing | None = None,
    columns: Sequence[sa.ColumnElement[Any]] | None = None,
) -> list[Any]:
    """A page of ``model`` objects in creation order (``created_at``, then ``id``); rows of
    ``columns`` instead, when given (no ORM objects to build).

    ``scope`` says what the caller may see at all (their environment, live objects): a cursor
    must name such a row. ``filters`` narrow the list further, ``narrow`` too (see ``keyset_page``).
    """

    def cursor_key(value: str) -> tuple[Any, ...] | None:
        row = session.execute(sa.select(model.created_at, model.id).where(*scope, model.id == value)).first()
        return tuple(row) if row else None

    stmt = sa.select(*(columns or [model])).where(*scope, *filters)
    return keyset_page(session, stmt, (model.created_at, model.id), page, cursor_key, narrow)


class VersionPageQuery(PageQuery):
    """Version lists page by version number instead of by ID."""

    starting_after: VersionNum | None = Field(None, description="Return the versions after this version number.")  # type: ignore[assignment]
    ending_before: VersionNum | None = Field(None, description="Return the versions immediately before this one.")  # type: ignore[assignment]
