"""Reading what changed in calls: the reads behind streams of call changes and long polls.

A call changes when it is created and each time its status changes; ``Call.updated_at`` says
when (``calls.progress.set_status``). Instants are set by the writing process before its
transaction commits, so a change may become visible a little after later ones: readers look
back ``SKEW`` before the instant they resume from, and tell changes apart by (call, status) —
a call never takes the same status twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.calls.models import Call
from quarry.calls.search import reference_contains
from quarry.calls.service import CALL_COLUMNS, LIST_FILTER_COLUMNS, list_filters

SKEW = timedelta(seconds=5)
"""How much later than its ``updated_at`` a change may become visible (its transaction's commit,
clocks of other machines): readers look back this far, so a later change is not missed."""

UNFINISHED = ("pending", "running")

ChangeKey = tuple[str, str]
"""A change: (call ID, the status it took)."""


def matcher(query: Any) -> Callable[[Any], bool]:
    """Whether a call (any object with ``Call``'s attributes) passes the List Calls filters of
    ``query`` — the same as ``list_filters`` and ``reference_contains`` select, in memory."""
    wanted = [(column.key, frozenset(values)) for column, values in _given(query)]
    substring = query.reference_id_substring.lower() if query.reference_id_substring is not None else None

    def matches(call: Any) -> bool:
        if substring is not None and substring not in (call.call_reference_id or "").lower():
            return False
        return all(getattr(call, key) in values for key, values in wanted)

    return matches


def _given(query: Any) -> list[tuple[Any, list[str]]]:
    given, _ = list_filters(query)
    return [(LIST_FILTER_COLUMNS[name], values) for name, values in given.items()]


def _conditions(environment_id: str, query: Any) -> list[sa.ColumnElement[bool]]:
    _, filters = list_filters(query)
    if query.reference_id_substring is not None:
        filters.append(reference_contains(query.reference_id_substring))
    return [Call.environment_id == environment_id, *filters]


def changed_since(
    session: Session, environment_id: str, query: Any, after: tuple[datetime, str], limit: int
) -> list[Any]:
    """Calls passing ``query``'s filters changed after ``after`` (an ``updated_at`` and a call ID),
    in that order: a page of rows of ``CALL_COLUMNS`` (served by ``ix_calls_env_updated``)."""
    stmt = (
        sa.select(*CALL_COLUMNS)
        .where(*_conditions(environment_id, query), sa.tuple_(Call.updated_at, Call.id) > sa.tuple_(*after))
        .order_by(Call.updated_at, Call.id)
        .limit(limit)
    )
    return list(session.connection().execute(stmt))


def unfinished(
    session: Session, environment_id: str, query: Any, after: tuple[datetime, str] | None, limit: int
) -> list[Any]:
    """Unfinished calls passing ``query``'s filters, in creation order after ``after`` (a
    ``created_at`` and a call ID): a page of rows of ``CALL_COLUMNS``."""
    stmt = sa.select(*CALL_COLUMNS).where(*_conditions(environment_id, query), Call.status.in_(UNFINISHED))
    if after is not None:
        stmt = stmt.where(sa.tuple_(Call.created_at, Call.id) > sa.tuple_(*after))
    return list(session.connection().execute(stmt.order_by(Call.created_at, Call.id).limit(limit)))


_RECENT = (
    sa.select(Call.environment_id, Call.id, Call.status, Call.updated_at)
    .where(
        Call.environment_id.in_(sa.bindparam("environments", expanding=True)), Call.updated_at > sa.bindparam("floor")
    )
    .order_by(Call.updated_at)
)


def recent(session: Session, environment_ids: Sequence[str], floor: datetime) -> list[Any]:
    """(environment, call, status, instant) of every change after ``floor`` in these environments:
    one statement, whatever the number of environments and followers."""
    return list(session.connection().execute(_RECENT, {"environments": list(environment_ids), "floor": floor}))
