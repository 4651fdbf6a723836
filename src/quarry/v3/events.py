"""Events in v3's shapes, and the outputs and errors of calls: ``/v3/outputs``, ``/v3/errors``.

v3 tells events apart by ``eventType``, with a variant per kind of function. Quarry records the
event type its runner emits; v3 names some of them after the function that ran, the way v3 names
the functions themselves (``functions.models.v3_type``): the transform event of a function that
reads as ``extract`` is an ``extract`` event (of one created as ``transform``, a ``transform``
event), that of an ``analyze`` function an ``analyze`` event, the route event of a ``route``
function (v3's ``classify``) a ``classify`` event. Everything else keeps its type.

An *output* is a non-error event that ended a branch of its call, an *error* an error event
(``calls.outputs`` finds them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BeforeValidator, Field
from sqlalchemy.orm import Session

from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import BaseUrl, Db, Links, ReviewQueue
from quarry.api.responses import wire_response
from quarry.calls import outputs, reviews
from quarry.events import service
from quarry.events.models import Event
from quarry.storage.blobs.urls import FileLinks
from quarry.storage.pages import PageQuery
from quarry.transformations import service as transformations
from quarry.wire import CsvList, VersionNum, WireModel, split_csv

router = APIRouter(tags=["v3 outputs and errors"])
"""Paths under ``/v3``: included by the calls router."""

OutputType = Literal[
    "transform", "extract", "parse", "analyze", "route", "classify", "split_collection", "split_item", "join",
    "enrich", "payload_shaping", "evaluation", "collection_processing", "send", "render",
]  # fmt: skip
"""The non-error variants of v3's event union."""

SPLIT_OUTPUTS = {"print_page": "printPageOutput", "semantic_page": "semanticPageOutput"}


def render(event: Event, function_type: str | None, links: FileLinks, url: str) -> dict[str, Any]:
    """The v3 form of an event: the v2 form (envelope and body) under its v3 type, without nulls.

    A split collection carries both ``printPageOutput`` and ``semanticPageOutput`` in v3 (both
    required); the one of the other split type is empty: no items of that kind."""
    rendered = {k: v for k, v in service.render(event, links, url).items() if v is not None}
    rendered["eventType"] = outputs.v3_type(event.event_type, function_type)
    if event.event_type == "split_collection":
        for output in SPLIT_OUTPUTS.values():
            rendered.setdefault(output, {"itemCount": 0, "items": []})
    return rendered


def render_all(session: Session, events: list[Event], links: FileLinks, url: str) -> list[dict[str, Any]]:
    types = outputs.function_types(session, events)
    return [render(event, types.get(event.function_id or ""), links, url) for event in events]


# --- routes -----------------------------------------------------------------------------------


class ErrorListQuery(PageQuery):
    call_ids: CsvList = None
    function_ids: CsvList = None
    function_names: CsvList = None
    reference_ids: CsvList = None
    reference_id_substring: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    workflow_ids: CsvList = None
    workflow_names: CsvList = None


class OutputListQuery(ErrorListQuery):
    event_ids: CsvList = None
    event_types: Annotated[list[OutputType] | None, BeforeValidator(split_csv)] = None
    function_version_nums: Annotated[list[VersionNum] | None, BeforeValidator(split_csv)] = None
    include_intermediate: bool = Field(False, description="Also list events that something ran on.")
    is_labelled: bool | None = Field(None, description="true: only corrected outputs; false: only the others.")
    is_regression: bool | None = Field(
        None, description="true: only outputs of regression runs (POST /v3/functions/regression); false: the others."
    )
    transformation_ids: CsvList = None
    needs_review: bool | None = Field(
        None,
        description="Quarry extension. true: only outputs with a field under the review confidence or found "
        "nowhere, or held by a review gate.",
    )
    created_before: AwareDatetime | None = Field(
        None, description="Quarry extension: only outputs created before this instant (RFC 3339, with its offset)."
    )


class OutputsPage(WireModel):
    outputs: list[dict[str, Any]]


class ErrorsPage(WireModel):
    errors: list[dict[str, Any]]


class OutputAnswer(WireModel):
    output: dict[str, Any]


class ErrorAnswer(WireModel):
    error: dict[str, Any]


@router.get("/outputs", response_model=OutputsPage)
def list_outputs(
    principal: CurrentPrincipal, query: Annotated[OutputListQuery, Query()], db: Db, links: Links, url: BaseUrl
) -> Any:
    """The outputs of calls, oldest first (intermediate events too with ``includeIntermediate``);
    filters combine with AND, values within one filter with OR."""
    with db.read() as session:
        found = outputs.page_of_outputs(session, principal.environment_id, query)
        return wire_response(OutputsPage, {"outputs": render_all(session, found, links, url)})


@router.get("/errors", response_model=ErrorsPage)
def list_errors(
    principal: CurrentPrincipal, query: Annotated[ErrorListQuery, Query()], db: Db, links: Links, url: BaseUrl
) -> Any:
    """The error events of calls, oldest first; filters combine with AND, values within one with OR."""
    with db.read() as session:
        found = outputs.page_of_errors(session, principal.environment_id, query)
        return wire_response(ErrorsPage, {"errors": render_all(session, found, links, url)})


@router.get("/outputs/{eventID}", response_model=OutputAnswer)
def get_output(principal: CurrentPrincipal, eventID: Annotated[str, Path()], db: Db, links: Links, url: BaseUrl) -> Any:
    """Any non-error event (an error event is a 404 here: see ``/v3/errors``)."""
    with db.read() as session:
        event = outputs.output_or_error(session, principal.environment_id, eventID, error=False)
        return wire_response(OutputAnswer, {"output": render_all(session, [event], links, url)[0]})


@router.get("/errors/{eventID}", response_model=ErrorAnswer)
def get_error(principal: CurrentPrincipal, eventID: Annotated[str, Path()], db: Db, links: Links, url: BaseUrl) -> Any:
    with db.read() as session:
        event = outputs.output_or_error(session, principal.environment_id, eventID, error=True)
        return wire_response(ErrorAnswer, {"error": render_all(session, [event], links, url)[0]})


class FeedbackBody(WireModel):
    correction: Any = Field(
        description="An extraction's or join's right output (a JSON object), or a classification's route name."
    )
    order_matching: bool = Field(
        False, description="true: array items are compared by index; false: matched regardless of order."
    )


class FeedbackAnswer(WireModel):
    correction: Any
    created_at: str
    event_id: str = Field(alias="eventID")
    function_type: Literal["extract", "classify", "join"]


@router.post("/events/{eventID}/feedback", response_model=FeedbackAnswer)
def submit_feedback(
    principal: CurrentPrincipal, eventID: Annotated[str, Path()], body: FeedbackBody, db: Db, resume: ReviewQueue
) -> Any:
    """A person's correction of an extract, classify or join event; sent again, it replaces the
    last. Stored as the event's ``correctedContent`` (an extraction's with its metrics, as
    ``PUT /v1-beta/transformations`` does), so outputs, events and transformations show it. A call
    waiting at a review gate for this event goes on (Quarry extension)."""
    with db.write() as session:
        feedback = transformations.record_feedback(
            session, principal.environment_id, eventID, body.correction, body.order_matching
        )
        decided = reviews.note_decisions(session, [feedback.event_id])
    resume(decided)
    return wire_response(
        FeedbackAnswer,
        {
            "correction": feedback.correction,
            "createdAt": feedback.created_at,
            "eventID": feedback.event_id,
            "functionType": feedback.function_type,
        },
    )
