"""Events in v3's shapes, and the outputs and errors of calls: ``/v3/outputs``, ``/v3/errors``.

v3 tells events apart by ``eventType``, with a variant per kind of function. Quarry records the
event type its runner emits; v3 names some of them after the function that ran, the way v3 names
the functions themselves (``v3.functions.V3_TYPES``): the transform event of a ``transform``
function (v3's ``extract``) is an ``extract`` event, that of an ``analyze`` function an
``analyze`` event, the route event of a ``route`` function (v3's ``classify``) a ``classify``
event. Everything else keeps its type.

An *output* is a non-error event that ended a branch of its call: not an intermediate event
(one something ran on, or a split's collection; see ``events.service.intermediate``); an
*error* is an error event (every one ends its function call).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query, Request
from pydantic import BeforeValidator, Field
from sqlalchemy.orm import Session

from quarry.api.auth import CurrentPrincipal
from quarry.api.files import base_url
from quarry.api.responses import wire_response
from quarry.calls.models import FunctionCall
from quarry.errors import not_found
from quarry.events import service
from quarry.events.models import Event
from quarry.storage.blobs.urls import FileLinks
from quarry.storage.pages import PageQuery
from quarry.wire import CsvList, VersionNum, WireModel, split_csv

router = APIRouter(tags=["v3 outputs and errors"])
"""Paths under ``/v3``: included by the calls router."""

NAMED_BY_FUNCTION = {
    ("transform", "analyze"): "analyze",
    ("transform", "transform"): "extract",
    ("route", "route"): "classify",
}
"""``(Quarry event type, function type)`` -> v3 event type, where v3 names the event after the function."""

OutputType = Literal[
    "transform", "extract", "parse", "analyze", "route", "classify", "split_collection", "split_item", "join",
    "enrich", "payload_shaping", "evaluation", "collection_processing", "send", "render",
]  # fmt: skip
"""The non-error variants of v3's event union."""

SPLIT_OUTPUTS = {"print_page": "printPageOutput", "semantic_page": "semanticPageOutput"}


def v3_type(event_type: str, function_type: str | None) -> str:
    return NAMED_BY_FUNCTION.get((event_type, function_type or ""), event_type)


def _ran_function_of_type(types: Iterable[str]) -> sa.ColumnElement[bool]:
    """Condition on ``Event``: emitted by a function call of one of these function types."""
    return sa.exists().where(FunctionCall.id == Event.function_call_id, FunctionCall.function_type.in_(list(types)))


def of_v3_types(types: list[str]) -> sa.ColumnElement[bool]:
    """Condition on ``Event``: its v3 event type is one of ``types``."""
    conditions = []
    for wanted in set(types):
        named = [(event_type, ft) for (event_type, ft), v3 in NAMED_BY_FUNCTION.items() if v3 == wanted]
        for event_type, function_type in named:
            conditions.append(sa.and_(Event.event_type == event_type, _ran_function_of_type([function_type])))
        if not named:
            renamed = [ft for (event_type, ft) in NAMED_BY_FUNCTION if event_type == wanted]
            plain = Event.event_type == wanted
            conditions.append(sa.and_(plain, sa.not_(_ran_function_of_type(renamed))) if renamed else plain)
    return sa.or_(*conditions)


def function_types(session: Session, events: list[Event]) -> dict[str, str]:
    """The function type of the function call behind each event (by function call ID)."""
    ids = {event.function_call_id for event in events if event.function_call_id}
    if not ids:
        return {}
    rows = session.execute(sa.select(FunctionCall.id, FunctionCall.function_type).where(FunctionCall.id.in_(ids)))
    return {function_call_id: function_type for function_call_id, function_type in rows}


def render(event: Event, function_type: str | None, links: FileLinks, url: str) -> dict[str, Any]:
    """The v3 form of an event: the v2 form (envelope and body) under its v3 type, without nulls.

    A split collection carries both ``printPageOutput`` and ``semanticPageOutput`` in v3 (both
    required); the one of the other split type is empty: no items of that kind."""
    rendered = {k: v for k, v in service.render(event, links, url).items() if v is not None}
    rendered["eventType"] = v3_type(event.event_type, function_type)
    if event.event_type == "split_collection":
        for output in SPLIT_OUTPUTS.values():
            rendered.setdefault(output, {"itemCount": 0, "items": []})
    return rendered


def render_all(session: Session, events: list[Event], links: FileLinks, url: str) -> list[dict[str, Any]]:
    types = function_types(session, events)
    return [render(event, types.get(event.function_call_id or ""), links, url) for event in events]


def of_calls(session: Session, call_ids: list[str], intermediate: bool = False) -> dict[str, list[Event]]:
    """The outputs and errors of each call (with ``intermediate``: every event), in creation order."""
    by_call: dict[str, list[Event]] = {call_id: [] for call_id in call_ids}
    if call_ids:
        stmt = sa.select(Event).where(Event.call_id.in_(call_ids)).order_by(Event.created_at, Event.id)
        if not intermediate:
            stmt = stmt.where(sa.not_(service.intermediate()))
        for event in session.scalars(stmt):
            by_call[event.call_id or ""].append(event)
    return by_call


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
        None, description="Quarry runs no regression tests: no output is a regression one."
    )
    transformation_ids: CsvList = None


class OutputsPage(WireModel):
    outputs: list[dict[str, Any]]


class ErrorsPage(WireModel):
    errors: list[dict[str, Any]]


class OutputAnswer(WireModel):
    output: dict[str, Any]


class ErrorAnswer(WireModel):
    error: dict[str, Any]


def _output_conditions(query: OutputListQuery) -> list[sa.ColumnElement[bool]]:
    conditions = [Event.event_type != "error", Event.call_id.is_not(None)]
    if not query.include_intermediate:
        conditions.append(sa.not_(service.intermediate()))
    if query.event_types is not None:
        conditions.append(of_v3_types(query.event_types))
    if query.is_regression:
        conditions.append(sa.false())
    return conditions


def _page(request: Request, environment_id: str, query: Any, conditions: list[sa.ColumnElement[bool]]) -> list[Any]:
    with request.app.state.db.read() as session:
        events = service.page_of_events(session, environment_id, query, conditions)
        return render_all(session, events, request.app.state.links, base_url(request))


@router.get("/outputs", response_model=OutputsPage)
def list_outputs(request: Request, principal: CurrentPrincipal, query: Annotated[OutputListQuery, Query()]) -> Any:
    """The outputs of calls, oldest first (intermediate events too with ``includeIntermediate``);
    filters combine with AND, values within one filter with OR."""
    conditions = _output_conditions(query)
    outputs = _page(request, principal.environment_id, query.model_copy(update={"event_types": None}), conditions)
    return wire_response(OutputsPage, {"outputs": outputs})


@router.get("/errors", response_model=ErrorsPage)
def list_errors(request: Request, principal: CurrentPrincipal, query: Annotated[ErrorListQuery, Query()]) -> Any:
    """The error events of calls, oldest first; filters combine with AND, values within one with OR."""
    errors = _page(request, principal.environment_id, query, [Event.event_type == "error"])
    return wire_response(ErrorsPage, {"errors": errors})


def _one(request: Request, environment_id: str, event_id: str, error: bool) -> dict[str, Any]:
    with request.app.state.db.read() as session:
        event = session.scalar(sa.select(Event).where(Event.environment_id == environment_id, Event.id == event_id))
        if event is None or (event.event_type == "error") != error:
            raise not_found("error" if error else "output", event_id)
        return render_all(session, [event], request.app.state.links, base_url(request))[0]


@router.get("/outputs/{eventID}", response_model=OutputAnswer)
def get_output(request: Request, principal: CurrentPrincipal, eventID: Annotated[str, Path()]) -> Any:
    """Any non-error event (an error event is a 404 here: see ``/v3/errors``)."""
    return wire_response(OutputAnswer, {"output": _one(request, principal.environment_id, eventID, error=False)})


@router.get("/errors/{eventID}", response_model=ErrorAnswer)
def get_error(request: Request, principal: CurrentPrincipal, eventID: Annotated[str, Path()]) -> Any:
    return wire_response(ErrorAnswer, {"error": _one(request, principal.environment_id, eventID, error=True)})
