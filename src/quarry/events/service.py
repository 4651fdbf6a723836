"""Reading events: the polymorphic wire form and the filtered, paginated list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.events.models import TRANSFORMATION_TYPES, Event
from quarry.storage.base import icontains
from quarry.storage.blobs.urls import FileLinks
from quarry.storage.pages import creation_page, total_count
from quarry.wire import rfc3339

BLOB_KEY_FIELD = "s3BlobKey"
"""Stored in an event's body where the wire form has ``s3URL``: URLs expire, keys do not."""


FILE_CONTAINERS = {"printPageOutput", "semanticPageOutput", "items"}
"""Where Quarry's own file references nest (split and join items). Content fields
(``transformedContent`` …) are never searched: a client's JSON must not mint file URLs."""


def _with_urls(value: Any, links: FileLinks, base_url: str) -> Any:
    if isinstance(value, list):
        return [_with_urls(item, links, base_url) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == BLOB_KEY_FIELD:
            out["s3URL"] = links.url(base_url, item)
        else:
            out[key] = _with_urls(item, links, base_url) if key in FILE_CONTAINERS else item
    return out


def with_urls(body: dict[str, Any], links: FileLinks, base_url: str) -> dict[str, Any]:
    """An event body with its blob keys as signed ``s3URL`` fields; a cited extraction's also with
    ``pagesURL``, Quarry's own signed URL of its input (whatever the store: an S3 presigned URL
    cannot take a parameter more, nor be fetched by the dashboard from another origin), which
    renders page N as an image with ``&page=N``."""
    out = _with_urls(body, links, base_url)
    if (body.get("fieldBoundingBoxes") or body.get("fieldTextSpans")) and BLOB_KEY_FIELD in body:
        out["pagesURL"] = links.signer.url(base_url, body[BLOB_KEY_FIELD])
    return out


def render(event: Event, links: FileLinks, base_url: str) -> dict[str, Any]:
    body = with_urls(event.body, links, base_url)
    envelope = {
        "eventID": event.id,
        "eventType": event.event_type,
        "referenceID": event.reference_id or "",
        "functionID": event.function_id,
        "functionName": event.function_name,
        "functionVersionNum": event.function_version_num,
        "functionCallID": event.function_call_id,
        "functionCallTryNumber": event.function_call_try_number,
        "callID": event.call_id,
        "workflowID": event.workflow_id,
        "workflowName": event.workflow_name,
        "workflowVersionNum": event.workflow_version_num,
        "createdAt": rfc3339(event.created_at),
    }
    rendered = {key: value for key, value in envelope.items() if value is not None} | body
    if event.event_type in TRANSFORMATION_TYPES:
        # webhook delivery state: null until a subscription's webhook answered (reference §3.8)
        rendered["publishedAt"] = rfc3339(event.published_at) if event.published_at else None
        rendered["lastPublishErrorAt"] = rfc3339(event.last_publish_error_at) if event.last_publish_error_at else None
    return rendered


_FILTERS = {
    "event_ids": Event.id,
    "call_ids": Event.call_id,
    "event_types": Event.event_type,
    "function_ids": Event.function_id,
    "function_names": Event.function_name,
    "function_version_nums": Event.function_version_num,
    "reference_ids": Event.reference_id,
    "transformation_ids": Event.transformation_id,
    "workflow_ids": Event.workflow_id,
    "workflow_names": Event.workflow_name,
}
"""List filters by the query attribute that holds their values; a query may have any of them."""


def _filters(query: Any) -> list[sa.ColumnElement[bool]]:
    filters = [
        column.in_(values) for name, column in _FILTERS.items() if (values := getattr(query, name, None)) is not None
    ]
    if (substring := getattr(query, "reference_id_substring", None)) is not None:
        filters.append(icontains(Event.reference_id, substring))
    if (labelled := getattr(query, "is_labelled", None)) is not None:
        filters.append(Event.labelled_at.is_not(None) if labelled else Event.labelled_at.is_(None))
    return filters


def page_of_events(
    session: Session, environment_id: str, query: Any, conditions: Sequence[sa.ColumnElement[bool]] = ()
) -> list[Event]:
    """A page of the events matching the query's filters and ``conditions``, in creation order."""
    scope = [Event.environment_id == environment_id]
    return creation_page(session, Event, scope, [*_filters(query), *conditions], query)


def list_events(session: Session, environment_id: str, query: Any) -> tuple[list[Event], int]:
    events = page_of_events(session, environment_id, query)
    every = sa.select(Event).where(Event.environment_id == environment_id, *_filters(query))
    return events, total_count(session, every, query, events)
