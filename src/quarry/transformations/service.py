"""Transformations: listing, correcting and deleting transform/join events; listing error events.

A *transformation* is a ``transform`` or ``join`` event (both carry a ``transformationID`` and a
``transformedContent``). Nothing is copied: the list reads the events table, a correction is
stored in the event itself (so ``GET /v1-alpha/events/{eventID}`` shows it too), and deleting a
transformation deletes its event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.errors import bad_request, not_found
from quarry.events import service as events
from quarry.events.models import TRANSFORMATION_TYPES, Event, own_outputs, regression_filter
from quarry.functions import service as functions
from quarry.storage.base import utcnow
from quarry.storage.blobs.urls import FileLinks
from quarry.storage.pages import creation_page, keyset_page, total_count
from quarry.transformations import metrics
from quarry.transformations.schemas import (
    Correction,
    TransformationErrorListQuery,
    TransformationFilters,
    TransformationListQuery,
)
from quarry.wire import rfc3339

PIPELINES_UNSUPPORTED = (
    "pipelineID is not supported: pipelines are a v1 concept; filter with functionIDs or functionNames"
)
TASKS_UNSUPPORTED = "taskIDs is not supported: tasks are a v1 concept; filter with eventIDs or referenceIDs"
SELECTING_FILTERS = ("reference_ids", "transformation_ids", "event_ids", "function_ids", "function_names")


def _scope(environment_id: str) -> list[sa.ColumnElement[bool]]:
    return [Event.environment_id == environment_id, Event.event_type.in_(TRANSFORMATION_TYPES)]


def _item_offset() -> sa.ColumnElement[int]:
    """A transform's ``itemOffset``; a join has one output for all its inputs: 0."""
    return sa.func.coalesce(Event.body["itemOffset"].as_integer(), 0)


def _filters(query: TransformationFilters) -> list[sa.ColumnElement[bool]]:
    if query.pipeline_id is not None:
        raise bad_request(PIPELINES_UNSUPPORTED, field="pipelineID")
    if query.task_ids is not None:
        raise bad_request(TASKS_UNSUPPORTED, field="taskIDs")
    if query.item_offset is not None and (query.reference_ids is None or len(set(query.reference_ids)) != 1):
        raise bad_request("itemOffset can only be used with exactly one referenceID", field="itemOffset")
    publication_window = query.published_before is not None or query.published_after is not None
    if query.published is False and publication_window:
        raise bad_request(
            "published=false contradicts publishedBefore/publishedAfter (only published transformations "
            "have a publication time)",
            field="published",
        )
    if (
        query.published_before is not None
        and query.published_after is not None
        and query.published_after >= query.published_before
    ):
        raise bad_request("publishedAfter must be earlier than publishedBefore", field="publishedAfter")

    columns = {
        "reference_ids": Event.reference_id,
        "transformation_ids": Event.transformation_id,
        "function_ids": Event.function_id,
        "function_names": Event.function_name,
        "event_ids": Event.id,
    }
    filters = [column.in_(getattr(query, name)) for name, column in columns.items() if getattr(query, name) is not None]
    if query.published is not None:
        filters.append(Event.published_at.is_not(None) if query.published else Event.published_at.is_(None))
    if query.published_before is not None:
        filters.append(Event.published_at < query.published_before)
    if query.published_after is not None:
        filters.append(Event.published_at > query.published_after)
    if query.item_offset is not None:
        filters.append(_item_offset() == query.item_offset)
    # bem's legacy default hides regression transformations; Quarry's score runs' outputs too
    filters.append(regression_filter(True) if query.is_regression else own_outputs())
    return filters


def render(event: Event, links: FileLinks, base_url: str) -> dict[str, Any]:
    """The event's wire form (§3.8), which holds every field of a v1 transformation plus the v2
    function fields; a join gets ``itemOffset`` 0 (its one output)."""
    rendered = events.render(event, links, base_url)
    rendered.setdefault("itemOffset", 0)
    return rendered


def list_transformations(
    session: Session, environment_id: str, query: TransformationListQuery
) -> tuple[list[Event], int]:
    scope, filters = _scope(environment_id), _filters(query)

    def cursor_key(transformation_id: str) -> tuple[Any, ...] | None:
        row = session.execute(
            sa.select(Event.created_at, Event.id).where(*scope, Event.transformation_id == transformation_id)
        ).first()
        return tuple(row) if row else None

    stmt = sa.select(Event).where(*scope, *filters)
    page = keyset_page(session, stmt, (Event.created_at, Event.id), query, cursor_key)
    return page, total_count(session, stmt, query, page)


def delete_transformations(session: Session, environment_id: str, query: TransformationFilters) -> list[str | None]:
    """Delete the transform/join events matching every given filter; the function call of each
    (a review gate may have waited on it). At least one of the filters that name transformations
    (referenceIDs, transformationIDs, eventIDs, functionIDs, functionNames) is required, so that
    no request deletes everything by accident."""
    filters = _filters(query)
    if all(getattr(query, name) is None for name in SELECTING_FILTERS):
        raise bad_request(
            "Name the transformations to delete with at least one of referenceIDs, transformationIDs, "
            "eventIDs, functionIDs or functionNames",
            field="transformationIDs",
        )
    deleted = sa.delete(Event).where(*_scope(environment_id), *filters).returning(Event.function_call_id)
    return list(session.scalars(deleted.execution_options(synchronize_session=False)))


@dataclass
class Outcome:
    """What became of one correction; ``update`` is what a valid one writes into the event's body."""

    transformation_id: str
    error: str | None = None
    event_id: str | None = None
    update: dict[str, Any] | None = None

    def as_wire(self) -> dict[str, Any]:
        result: dict[str, Any] = {"transformationID": self.transformation_id, "success": self.error is None}
        if self.error is not None:
            result["error"] = self.error
        return result


def _correction_update(extracted: Any, corrected: Any, order_matching: bool) -> dict[str, Any]:
    """What a correction writes into an extraction's event: the right output and how the
    extraction compares with it."""
    comparison = metrics.compare(extracted, corrected, order_matching)
    return {"correctedContent": corrected, "orderMatching": order_matching, "metrics": comparison.as_wire()}


DUPLICATE = "transformationID already appears earlier in this request (only its first correction is considered)"


def check_corrections(session: Session, environment_id: str, corrections: list[Correction]) -> list[Outcome]:
    """Check each correction on its own and compute its metrics (in a read transaction: the
    comparison may take a while and ``transformedContent`` never changes). A correction that
    cannot be applied — unknown transformation, ``correctedJSON`` not an object, a
    transformation named earlier in the request — fails alone."""
    wanted = {c.transformation_id for c in corrections}
    rows = session.execute(
        sa.select(Event.transformation_id, Event.id, Event.body["transformedContent"]).where(
            *_scope(environment_id), Event.transformation_id.in_(wanted)
        )
    )
    found, contents = {}, {}
    for transformation_id, event_id, content in rows:
        found[transformation_id], contents[event_id] = event_id, content
    seen: set[str] = set()
    outcomes = []
    for correction in corrections:
        tid = correction.transformation_id
        if tid in seen:
            outcomes.append(Outcome(tid, DUPLICATE))
            continue
        seen.add(tid)
        if tid not in found:
            outcomes.append(Outcome(tid, f"transformation {tid!r} not found"))
        elif not isinstance(correction.corrected_json, dict):
            outcomes.append(Outcome(tid, "correctedJSON must be a JSON object"))
        else:
            update = _correction_update(contents.get(found[tid]), correction.corrected_json, correction.order_matching)
            outcomes.append(Outcome(tid, event_id=found[tid], update=update))
    return outcomes


def store_corrections(session: Session, environment_id: str, outcomes: list[Outcome]) -> None:
    """Write the valid corrections (in one write transaction): the body gains ``correctedContent``,
    ``orderMatching`` and ``metrics``, ``labelled_at`` is set. A transformation deleted since it
    was checked fails as not found."""
    valid = [o for o in outcomes if o.update is not None]
    events = {
        event.id: event
        for event in session.scalars(
            sa.select(Event)
            .where(*_scope(environment_id), Event.id.in_([o.event_id for o in valid]))
            .order_by(Event.id)
            .with_for_update()
        )
    }
    now = utcnow()
    for outcome in valid:
        event = events.get(outcome.event_id or "")
        if event is None:
            outcome.error, outcome.update = f"transformation {outcome.transformation_id!r} not found", None
            continue
        event.body = event.body | (outcome.update or {})
        event.labelled_at = now


def list_errors(session: Session, environment_id: str, query: TransformationErrorListQuery) -> tuple[list[Event], int]:
    if query.pipeline_id is not None:
        raise bad_request(PIPELINES_UNSUPPORTED, field="pipelineID")
    scope = [Event.environment_id == environment_id, Event.event_type == "error"]
    columns = {
        "reference_ids": Event.reference_id,
        "function_ids": Event.function_id,
        "function_names": Event.function_name,
        "event_ids": Event.id,
    }
    filters = [column.in_(getattr(query, name)) for name, column in columns.items() if getattr(query, name) is not None]
    page = creation_page(session, Event, scope, filters, query)
    return page, total_count(session, sa.select(Event).where(*scope, *filters), query, page)


def render_error(event: Event) -> dict[str, Any]:
    """v1's transformation error, plus the v2 function fields of the event (no ``pipelineID``)."""
    fields = {
        "transformationErrorID": event.id,
        "referenceID": event.reference_id or "",
        "message": str(event.body.get("message", "")),
        "timestamp": rfc3339(event.created_at),
        "functionID": event.function_id,
        "functionName": event.function_name,
        "functionVersionNum": event.function_version_num,
        "functionCallID": event.function_call_id,
        "callID": event.call_id,
        "workflowID": event.workflow_id,
        "workflowName": event.workflow_name,
        "workflowVersionNum": event.workflow_version_num,
    }
    return {key: value for key, value in fields.items() if value is not None}


@dataclass
class Feedback:
    """A correction recorded through v3's feedback: of which event, of which kind, when."""

    event_id: str
    function_type: str  # as v3 names it: extract, classify or join
    correction: Any
    created_at: str


FEEDBACK_TYPES = {"transform": "extract", "join": "join", "route": "classify"}
"""The events a person can correct, by event type, and the function type v3 gives them."""


def record_feedback(
    session: Session, environment_id: str, event_id: str, correction: Any, order_matching: bool
) -> Feedback:
    """Store a person's correction of an event (again: it replaces the last one)."""
    event = session.scalars(
        sa.select(Event).where(Event.environment_id == environment_id, Event.id == event_id).with_for_update()
    ).one_or_none()
    if event is None:
        raise not_found("event", event_id)
    function_type = record_correction(session, event, correction, order_matching)
    return Feedback(event.id, function_type, correction, rfc3339(event.labelled_at))


def record_correction(session: Session, event: Event, correction: Any, order_matching: bool) -> str:
    """Store a correction in an event (locked by the caller) and return the event's kind as v3
    names it. An extraction's is a transformation correction (metrics and all, as
    ``PUT /v1-beta/transformations``); a classification's must name one of the routes of the
    function version that chose."""
    function_type = FEEDBACK_TYPES.get(event.event_type)
    if function_type is None:
        raise bad_request(
            f"a {event.event_type} event takes no feedback: only extract, classify and join events do",
            field="eventID",
        )
    if function_type == "classify":
        routes = functions.config_of(session, event.function_id or "", event.function_version_num or 0)["routes"]
        names = [route["name"] for route in routes]
        if correction not in names:
            raise bad_request(f"a classification's correction is one of {', '.join(map(repr, names))}", "correction")
        update = {"correctedContent": correction}
    else:
        if not isinstance(correction, dict):
            raise bad_request("an extraction's correction is a JSON object of its output schema", "correction")
        update = _correction_update(event.body.get("transformedContent"), correction, order_matching)
    event.body = event.body | update
    event.labelled_at = utcnow()
    return function_type
