"""HTTP routes of calls: ``/v2/calls`` and the direct function calls under ``/v2/functions``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from quarry.api import sse
from quarry.api.auth import CurrentPrincipal
from quarry.api.deps import AppSettings, Db, base_url_of, finished_calls_of, process_of, watcher_of
from quarry.api.forms import form_files, form_text
from quarry.api.idempotency import Idempotency
from quarry.api.responses import json_response
from quarry.api.submission import Submit
from quarry.calls import service, watch
from quarry.calls.models import TERMINAL_STATUSES, FunctionCall
from quarry.calls.render import Renderer
from quarry.calls.schemas import (
    CallEnvelope,
    CallList,
    CallsCreate,
    CallsCreated,
    CallStatus,
    FunctionCallArgument,
    FunctionCallOut,
    FunctionCallRequest,
    FunctionCallsCreated,
)
from quarry.calls.service import InputFile, NewCall
from quarry.calls.submission import Created
from quarry.errors import from_validation_error, invalid
from quarry.storage.lookup import get_in_environment
from quarry.storage.pages import PageQuery
from quarry.wire import CsvList, Instant, WireModel, split_csv

router = APIRouter(tags=["calls"])

MAX_WAIT_SECONDS = 60
"""Longest long poll of a call: under the idle timeouts of common proxies and load balancers."""
STREAM_DESCRIPTION = (
    '`text/event-stream`: `event: call` events (`id`: the change\'s position, `data`: `{"call": …}`),'
    " one `event: ready` after the first calls, and `: keepalive` comments."
)


class CallFilters(WireModel):
    """The filters of List Calls, shared by the stream of call changes."""

    call_ids: CsvList = None
    reference_ids: CsvList = None
    reference_id_substring: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    call_types: Annotated[
        list[Annotated[str, Field(pattern="^(workflow|function)$")]] | None, BeforeValidator(split_csv)
    ] = None
    workflow_ids: CsvList = None
    workflow_names: CsvList = None
    function_ids: CsvList = None
    function_names: CsvList = None
    statuses: Annotated[list[CallStatus] | None, BeforeValidator(split_csv)] = Field(
        None, description="Quarry extension (as in bem v3): pending, running, completed, failed."
    )


class CallListQuery(CallFilters, PageQuery):
    pass


class CallStreamQuery(CallFilters):
    since: Instant | None = Field(
        None,
        description="Replay the changes after this position (an event's `id`, or any RFC 3339 instant) before"
        " the live ones; without it (and without a `Last-Event-ID` header) the stream starts with the"
        " unfinished calls as they are.",
    )


async def renderer(request: Request) -> Renderer:
    return Renderer(process_of(request).links, base_url_of(request), finished_calls_of(request))


Render = Annotated[Renderer, Depends(renderer)]


@router.post("/v2/calls", response_model=CallsCreated, response_model_exclude_none=True)
def create_calls(
    principal: CurrentPrincipal,
    body: CallsCreate,
    idem: Idempotency,
    db: Db,
    settings: AppSettings,
    submit: Submit,
    render: Render,
) -> dict[str, Any] | Response:
    """Call workflows or functions, in a batch. Every item is validated before any is created;
    the calls are answered as created (``pending``) and run in the background."""
    with db.read() as session:
        limit = settings.max_input_bytes
        new_calls = service.prepare_calls(session, principal.environment_id, body.calls, limit)

    def answer(created: Created) -> dict[str, Any]:
        return {"calls": [render.call(call, roots) for call, roots in created]}

    _, response = submit(principal, new_calls, idem, answer)
    # written here, in the request's thread: through the response model, FastAPI would encode a
    # batch's hundred calls on the event loop, and every other request would wait for it
    return json_response(response) if isinstance(response, dict) else response


@router.get("/v2/calls", response_model=CallList, response_model_exclude_none=True)
def list_calls(
    principal: CurrentPrincipal, query: Annotated[CallListQuery, Query()], db: Db, render: Render
) -> Response:
    """List calls, newest last (``sortOrder=desc`` for newest first); filters combine with AND,
    values within one filter with OR."""
    with db.read() as session:
        calls, total = service.list_calls(session, db, principal.environment_id, query)
        return json_response({"calls": render.calls(session, calls), "totalCount": total})


@router.get(
    "/v2/calls/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": STREAM_DESCRIPTION}},
)
async def stream_calls(
    request: Request,
    principal: CurrentPrincipal,
    query: Annotated[CallStreamQuery, Query()],
    render: Render,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-Sent Events of the calls passing the filters (those of List Calls): each call when
    it is created and each time its status changes (`event: call`, `data` as `GET /v2/calls/{callID}`
    answers). It starts with the unfinished calls as they are, or with the changes after `since` /
    `Last-Event-ID`; then `event: ready`; then the changes as they come. See README, "Following calls"."""
    since = query.since if last_event_id is None else sse.position("Last-Event-ID", last_event_id)
    changes = watch.stream(
        watcher_of(request),
        principal.environment_id,
        query,
        since,
        heartbeat=sse.HEARTBEAT_SECONDS,
        lifetime=sse.LIFETIME_SECONDS,
    )
    return StreamingResponse(sse.events(changes, render, replay=since is not None), headers=sse.HEADERS)


@router.get("/v2/calls/{callID}", response_model=CallEnvelope, response_model_exclude_none=True)
async def get_call(
    request: Request,
    principal: CurrentPrincipal,
    callID: Annotated[str, Path()],
    db: Db,
    render: Render,
    wait_seconds: Annotated[
        int,
        Query(
            alias="waitSeconds",
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Quarry extension: wait up to this many seconds for the call to finish"
            " (completed or failed) before answering; it answers as soon as it has. 0 (default): at once.",
        ),
    ] = 0,
) -> Response:
    def read() -> tuple[Any, Response]:
        with db.read() as session:
            call = service.find_call(session, principal.environment_id, callID)
            return call, json_response({"call": render.calls(session, [call])[0]})

    kept = render.kept(principal.environment_id, callID)
    if kept is not None:  # finished, and rendered a moment ago: no database, no thread
        return json_response({"call": kept})
    if wait_seconds == 0:
        return (await run_in_threadpool(read))[1]
    watcher = watcher_of(request)
    try:  # followed before the first read: a change after it cannot be missed
        follower = await watcher.follow(principal.environment_id, lambda call: call.id == callID)
    except watch.Closed:
        return (await run_in_threadpool(read))[1]
    try:
        call, response = await run_in_threadpool(read)
        deadline = asyncio.get_running_loop().time() + wait_seconds
        while call.status not in TERMINAL_STATUSES:
            change = await follower.next(deadline - asyncio.get_running_loop().time())
            if change is None:
                break
            if change.call.status in TERMINAL_STATUSES:
                call, response = await run_in_threadpool(read)
        return response
    finally:
        watcher.unfollow(follower)


@router.get("/v2/functions/calls/{functionCallID}", response_model=FunctionCallOut, response_model_exclude_none=True)
def get_function_call(
    principal: CurrentPrincipal, functionCallID: Annotated[str, Path()], db: Db, render: Render
) -> dict[str, Any]:
    with db.read() as session:
        fc = get_in_environment(session, FunctionCall, principal.environment_id, functionCallID, "function call")
        return render.function_call(fc)


def _argument_files(argument: FunctionCallArgument, index: int, max_bytes: int) -> list[InputFile]:
    if argument.inputs is None:
        return [service.decode_file(argument, f"arguments[{index}]", max_bytes)]
    return [
        service.decode_file(file, f"arguments[{index}].inputs[{j}]", max_bytes, file.item_reference_id)
        for j, file in enumerate(argument.inputs)
    ]


# The route reads its body itself (JSON or a form), so FastAPI cannot tell what it is: say it here.
CALL_FUNCTION_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": FunctionCallRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "referenceID": {"type": "string", "minLength": 1, "maxLength": 256},
                    "file": {"type": "string", "format": "binary"},
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                },
                "required": ["referenceID"],
                "additionalProperties": False,
            }
        },
    },
}


@router.post(
    "/v2/functions/{functionName}/call",
    response_model=FunctionCallsCreated,
    response_model_exclude_none=True,
    openapi_extra={"requestBody": CALL_FUNCTION_BODY},
)
async def call_function(
    request: Request,
    principal: CurrentPrincipal,
    functionName: str,
    idem: Idempotency,
    db: Db,
    settings: AppSettings,
    submit: Submit,
    render: Render,
) -> dict[str, Any] | Response:
    """Call one function directly: JSON ``{"arguments": [...]}`` or a multipart form with
    ``referenceID`` and ``file`` (or repeated ``files``). One call per argument."""
    limit = settings.max_input_bytes
    form_argument = None
    parsed: list[FunctionCallArgument] = []
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form, files = await form_files(request, limit, ("referenceID",))
        form_argument = (form_text(form, "referenceID", required=True), files)
    else:
        try:
            raw = await request.json()
        except ValueError:
            raise invalid([{"field": "body", "reason": "malformed JSON"}]) from None
        try:
            parsed = FunctionCallRequest.model_validate(raw).arguments
        except ValidationError as exc:
            raise from_validation_error(exc, raw) from None

    def build() -> list[NewCall]:  # off the event loop: decoding large files takes a while
        if form_argument is not None:
            arguments = [form_argument]
        else:
            arguments = [(arg.reference_id, _argument_files(arg, i, limit)) for i, arg in enumerate(parsed)]
        with db.read() as session:
            return service.prepare_function_calls(session, principal.environment_id, functionName, arguments)

    new_calls = await run_in_threadpool(build)

    def answer(created: Created) -> dict[str, Any]:
        return {"functionCalls": [render.function_call(fc) for _, roots in created for fc in roots]}

    _, response = await run_in_threadpool(submit, principal, new_calls, idem, answer)
    return response
