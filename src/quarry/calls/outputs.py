"""A call's outputs and errors: which of its events ended a branch, found with the function calls
that emitted them.

An *output* is a non-error event that ended a branch of its call: not an intermediate event (one
something ran on, or a split's collection); an *error* is an error event (every one ends its
function call). v3 names some event types after the function that ran (:data:`NAMED_BY_FUNCTION`),
so filtering by v3 type looks at the emitting function call too. Used by v3's calls and outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.calls.models import FunctionCall, JoinSource
from quarry.errors import not_found
from quarry.events.models import Event, own_outputs, regression_filter
from quarry.events.service import page_of_events
from quarry.functions import service as functions
from quarry.functions.models import Function, reading_in_v3_as

NAMED_BY_FUNCTION = {
    ("transform", "analyze"): "analyze",
    ("transform", "extract"): "extract",
    ("route", "classify"): "classify",
}
"""``(Quarry event type, the function's v3 type)`` -> v3 event type, where v3 names the event after
the function (a ``transform`` function's events stay ``transform`` events)."""


def v3_type(event_type: str, function_type: str | None) -> str:
    """``function_type``: the emitting function's v3 type (``function_types``)."""
    return NAMED_BY_FUNCTION.get((event_type, function_type or ""), event_type)


def intermediate() -> sa.ColumnElement[bool]:
    """Condition on ``Event``: it is not an end result of its call — a split's collection, or an
    event something ran on (a function call it spawned, or a join it fed: every branch of one)."""
    spawned = sa.exists().where(FunctionCall.call_id == Event.call_id, FunctionCall.source_event_id == Event.id)
    fed = sa.exists().where(JoinSource.event_id == Event.id)
    return sa.or_(Event.event_type == "split_collection", spawned, fed)


def join_sources(session: Session, function_call_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """``(sourceFunctionCallID, sourceEventID)`` of every branch that fed each of these joins, in
    the order they reached it."""
    rows = session.execute(
        sa.select(JoinSource.function_call_id, JoinSource.source_function_call_id, JoinSource.event_id)
        .where(JoinSource.function_call_id.in_(function_call_ids))
        .order_by(JoinSource.fed_at, JoinSource.event_id)
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for join_id, source_id, event_id in rows:
        found.setdefault(join_id, []).append((source_id, event_id))
    return found


def _emitted_by_function_reading_as(types: Iterable[str]) -> sa.ColumnElement[bool]:
    """Condition on ``Event``: emitted by a function whose v3 type is one of these."""
    return sa.exists().where(Function.id == Event.function_id, reading_in_v3_as(list(types)))


def of_v3_types(types: list[str]) -> sa.ColumnElement[bool]:
    """Condition on ``Event``: its v3 event type is one of ``types``."""
    conditions = []
    for wanted in set(types):
        named = [(event_type, ft) for (event_type, ft), v3 in NAMED_BY_FUNCTION.items() if v3 == wanted]
        for event_type, function_type in named:
            conditions.append(sa.and_(Event.event_type == event_type, _emitted_by_function_reading_as([function_type])))
        if not named:
            renamed = [ft for (event_type, ft) in NAMED_BY_FUNCTION if event_type == wanted]
            plain = Event.event_type == wanted
            conditions.append(sa.and_(plain, sa.not_(_emitted_by_function_reading_as(renamed))) if renamed else plain)
    return sa.or_(*conditions)


def function_types(session: Session, events: list[Event]) -> dict[str, str]:
    """The v3 type of the function behind each event, by function ID."""
    return functions.v3_types_of(session, {event.function_id for event in events if event.function_id})


EventsStamp = tuple[tuple[str, Any, Any, Any], ...]
"""What can still change in a finished call's events, event by event: which events there are
(deleting a transformation), when each was corrected, last delivered and last failed to deliver
(``publishedAt``, ``lastPublishErrorAt``). Equal stamps, equal events."""

_STAMPS_OF = (
    sa.select(Event.call_id, Event.id, Event.labelled_at, Event.published_at, Event.last_publish_error_at)
    .where(Event.call_id.in_(sa.bindparam("call_ids", expanding=True)))
    .order_by(Event.call_id, Event.created_at, Event.id)
)


def stamps_of(session: Session, call_ids: list[str]) -> dict[str, EventsStamp]:
    """The ``EventsStamp`` of each call's events (once the call has finished, no event is added),
    from four narrow columns of the events on the call index instead of the events themselves.
    Exact where an aggregate is not: writes may commit out of their timestamps' order."""
    stamps: dict[str, list[tuple[str, Any, Any, Any]]] = {call_id: [] for call_id in call_ids}
    if call_ids:
        for call_id, *event in session.connection().execute(_STAMPS_OF, {"call_ids": call_ids}):
            stamps[call_id].append(tuple(event))  # type: ignore[arg-type]
    return {call_id: tuple(events) for call_id, events in stamps.items()}


def of_calls(session: Session, call_ids: list[str]) -> dict[str, list[Event]]:
    """The outputs and errors of each call, in creation order."""
    by_call: dict[str, list[Event]] = {call_id: [] for call_id in call_ids}
    if call_ids:
        stmt = (
            sa.select(Event)
            .where(Event.call_id.in_(call_ids), sa.not_(intermediate()))
            .order_by(Event.created_at, Event.id)
        )
        for event in session.scalars(stmt):
            by_call[event.call_id or ""].append(event)
    return by_call


def page_of_outputs(session: Session, environment_id: str, query: Any) -> list[Event]:
    """A page of outputs; the query may ask for intermediate events too, for v3 types, for
    regression outputs (``POST /v3/functions/regression``), and — Quarry's own filters
    — for outputs that need review or were created before an instant."""
    conditions = [Event.event_type != "error", Event.call_id.is_not(None)]
    if not query.include_intermediate:
        conditions.append(sa.not_(intermediate()))
    if query.event_types is not None:
        conditions.append(of_v3_types(query.event_types))
    if query.is_regression is not None:
        conditions.append(regression_filter(query.is_regression))
    if query.needs_review is not None:
        flagged = Event.body["needsReview"].as_boolean().is_(True)
        conditions.append(flagged if query.needs_review else sa.not_(sa.func.coalesce(flagged, False)))
        if query.needs_review:  # the review queue: trials are measured against corrections, not reviewed
            conditions.append(own_outputs())
    if query.created_before is not None:
        conditions.append(Event.created_at < query.created_before)
    return page_of_events(session, environment_id, query.model_copy(update={"event_types": None}), conditions)


def page_of_errors(session: Session, environment_id: str, query: Any) -> list[Event]:
    return page_of_events(session, environment_id, query, [Event.event_type == "error"])


def events_of_call(session: Session, call_id: str) -> list[Event]:
    """Every event of a call, in creation order (its trace)."""
    return list(session.scalars(sa.select(Event).where(Event.call_id == call_id).order_by(Event.created_at, Event.id)))


def output_or_error(session: Session, environment_id: str, event_id: str, *, error: bool) -> Event:
    """One output (``error=False``) or error event of the environment; the other kind is a 404 too."""
    event = session.scalar(sa.select(Event).where(Event.environment_id == environment_id, Event.id == event_id))
    if event is None or (event.event_type == "error") != error:
        raise not_found("error" if error else "output", event_id)
    return event
