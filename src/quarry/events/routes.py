"""HTTP routes of ``/v1-alpha/events`` (events stayed on the v1-alpha surface in the v2 era)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BeforeValidator, Field

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import BaseUrl, Db, Links
from quarry.events import service
from quarry.events.models import Event
from quarry.events.types import EventType
from quarry.storage.lookup import get_in_environment
from quarry.storage.pages import PageQuery
from quarry.wire import CsvList, split_csv

router = APIRouter(prefix="/v1-alpha/events", tags=["events"])


class EventListQuery(PageQuery):
    event_ids: CsvList = None
    call_ids: CsvList = None
    event_types: Annotated[list[EventType] | None, BeforeValidator(split_csv)] = None
    function_ids: CsvList = None
    function_names: CsvList = None
    reference_ids: CsvList = None
    reference_id_substring: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    is_labelled: bool | None = Field(
        None, description="true: only events whose transformation was corrected; false: only the others."
    )


@router.get("")
def list_events(
    principal: CurrentPrincipal, query: Annotated[EventListQuery, Query()], db: Db, links: Links, url: BaseUrl
) -> Any:
    """Events of the environment, oldest first; filters combine with AND, values within one with OR."""
    with db.read() as session:
        events, total = service.list_events(session, principal.environment_id, query)
    links, url = links, url
    return {"events": [service.render(e, links, url) for e in events], "totalCount": total}


@router.get("/{eventID}")
def get_event(principal: CurrentPrincipal, eventID: Annotated[str, Path()], db: Db, links: Links, url: BaseUrl) -> Any:
    with db.read() as session:
        event = get_in_environment(session, Event, principal.environment_id, eventID, "event")
    return service.render(event, links, url)
